/*
 * A switch port that carries one VLAN tagged, for the lab: the host kernel may have neither
 * bridge VLAN filtering nor 8021q, so the tagging is done here, in user space, between a QEMU
 * NIC and the lab bridge.
 *
 *   vlan-port TAP VID LOCAL_PORT PEER_PORT
 *
 * QEMU's NIC is a UDP socket netdev (-netdev socket,udp=127.0.0.1:LOCAL_PORT,
 * localaddr=127.0.0.1:PEER_PORT): each datagram is one Ethernet frame. TAP is a new tap device
 * the caller puts on the bridge. A frame from the machine reaches the bridge only if it carries
 * an 802.1Q tag with VID (the tag is removed); every frame from the bridge reaches the machine
 * tagged with VID. Untagged or otherwise tagged frames from the machine are dropped, as a
 * trunk port allowing only VID would. Prints "ready" once both ends are open; runs until killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#define MAX_FRAME 65536

static int port_number(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 65535) return -1;
    return (int)v;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: vlan-port TAP VID LOCAL_PORT PEER_PORT\n");
        return 2;
    }
    char *end;
    long vid = strtol(argv[2], &end, 10);
    int local = port_number(argv[3]), peer = port_number(argv[4]);
    if (*end != '\0' || vid < 1 || vid > 4094 || local < 0 || peer < 0 || strlen(argv[1]) >= IFNAMSIZ) {
        fprintf(stderr, "vlan-port: bad arguments (TAP name, VID 1-4094, ports 1-65535)\n");
        return 2;
    }

    int tap = open("/dev/net/tun", O_RDWR);
    if (tap < 0) { perror("vlan-port: /dev/net/tun"); return 1; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
    if (ioctl(tap, TUNSETIFF, &ifr) < 0) { perror("vlan-port: TUNSETIFF"); return 1; }

    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    if (udp < 0) { perror("vlan-port: socket"); return 1; }
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((unsigned short)local) };
    struct sockaddr_in qemu = { .sin_family = AF_INET, .sin_port = htons((unsigned short)peer) };
    me.sin_addr.s_addr = qemu.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(udp, (struct sockaddr *)&me, sizeof me) < 0) { perror("vlan-port: bind"); return 1; }

    printf("ready\n");
    fflush(stdout);

    static unsigned char buf[MAX_FRAME + 4];
    struct pollfd fds[2] = { { .fd = tap, .events = POLLIN }, { .fd = udp, .events = POLLIN } };
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            perror("vlan-port: poll");
            return 1;
        }
        if (fds[0].revents & POLLIN) {
            /* From the bridge: read past where the tag goes, then move the MAC addresses up. */
            ssize_t n = read(tap, buf + 4, MAX_FRAME);
            if (n >= 14) {
                memmove(buf, buf + 4, 12);
                buf[12] = 0x81; buf[13] = 0x00;
                buf[14] = (unsigned char)(vid >> 8); buf[15] = (unsigned char)(vid & 0xff);
                sendto(udp, buf, (size_t)n + 4, 0, (struct sockaddr *)&qemu, sizeof qemu);
            }
        }
        if (fds[1].revents & POLLIN) {
            ssize_t n = recv(udp, buf, MAX_FRAME, 0);
            /* 802.1Q (TPID 0x8100), priority and DEI ignored, VID must match. */
            if (n >= 18 && buf[12] == 0x81 && buf[13] == 0x00 && (((buf[14] & 0x0f) << 8) | buf[15]) == vid) {
                memmove(buf + 4, buf, 12);
                if (write(tap, buf + 4, (size_t)n - 4) < 0 && errno != EIO) perror("vlan-port: write");
            }
        }
    }
}
