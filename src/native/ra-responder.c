/*
 * diskless-ra-responder: tells IPv6 autoconfiguration "there is no IPv6 router here" at once.
 *
 * Usage: diskless-ra-responder INTERFACE
 *
 * Why it exists. iPXE configures an interface with every configurator it has, DHCPv4 and IPv6
 * router discovery together, and prints "ok" only when both are done. On an IPv4-only LAN no
 * router ever answers its Router Solicitations, so each iPXE stage waits out its solicitation
 * retries: about 13 s per boot stage, measured in the lab (16.2 s from "Configuring" to "ok";
 * 3.1 s with an answer). An answer that says nothing — a Router Advertisement with router
 * lifetime 0 (RFC 4861 §4.2: "not a default router"), no flags and no prefix — ends the wait
 * and configures nothing on any host.
 *
 * The answer is unicast to the soliciting address (RFC 4861 §6.2.6 allows it), so other hosts
 * on the link never see it; solicitations are checked as §6.1.1 asks (hop limit 255, code 0,
 * at least 8 bytes) and at most one answer per source every second is sent, so a flood of
 * solicitations cannot make us flood the link. Node.js has no raw sockets, hence C.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RATE_SLOTS 64

struct recent { struct in6_addr from; time_t at; };

static int rate_limited(struct recent *slots, const struct in6_addr *from, time_t now) {
    int oldest = 0;
    for (int i = 0; i < RATE_SLOTS; i++) {
        if (memcmp(&slots[i].from, from, sizeof *from) == 0) {
            if (now - slots[i].at < 1) return 1;
            slots[i].at = now;
            return 0;
        }
        if (slots[i].at < slots[oldest].at) oldest = i;
    }
    slots[oldest].from = *from;
    slots[oldest].at = now;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s INTERFACE\n", argv[0]);
        return 2;
    }
    unsigned ifindex = if_nametoindex(argv[1]);
    if (ifindex == 0) {
        fprintf(stderr, "ra-responder: no interface %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (s < 0) {
        fprintf(stderr, "ra-responder: raw ICMPv6 socket: %s (needs root or CAP_NET_RAW)\n", strerror(errno));
        return 1;
    }
    int on = 1, hops = 255;
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
    struct ipv6_mreq mreq = { .ipv6mr_interface = ifindex };
    inet_pton(AF_INET6, "ff02::2", &mreq.ipv6mr_multiaddr);
    if (setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, argv[1], strlen(argv[1])) < 0 ||
        setsockopt(s, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) < 0 ||
        setsockopt(s, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0 ||
        setsockopt(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0 ||
        setsockopt(s, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
        setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof mreq) < 0) {
        fprintf(stderr, "ra-responder: socket options on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    fprintf(stderr, "ra-responder: answering router solicitations on %s\n", argv[1]);
    fflush(stderr);

    /* Type 134, code 0, checksum (the kernel fills it for ICMPv6 raw sockets), cur hop limit 0
     * (unspecified), no M/O flags, router lifetime 0, reachable time 0, retrans timer 0. */
    struct nd_router_advert ra;
    memset(&ra, 0, sizeof ra);
    ra.nd_ra_type = ND_ROUTER_ADVERT;

    struct recent slots[RATE_SLOTS];
    memset(slots, 0, sizeof slots);
    for (;;) {
        unsigned char buf[1500], control[256];
        struct sockaddr_in6 from;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
        struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = control, .msg_controllen = sizeof control };
        ssize_t n = recvmsg(s, &msg, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "ra-responder: receive: %s\n", strerror(errno));
            return 1;
        }
        int hoplimit = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(&hoplimit, CMSG_DATA(c), sizeof hoplimit);
        }
        /* RFC 4861 §6.1.1: hop limit 255 (it came from this link), code 0, 8 bytes or more. */
        if (n < 8 || buf[0] != ND_ROUTER_SOLICIT || buf[1] != 0 || hoplimit != 255) continue;
        if (rate_limited(slots, &from.sin6_addr, time(NULL))) continue;
        /* An unspecified source (::) cannot be answered by unicast: answer all-nodes then. */
        struct sockaddr_in6 to = from;
        if (IN6_IS_ADDR_UNSPECIFIED(&from.sin6_addr)) inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
        to.sin6_scope_id = ifindex;
        if (sendto(s, &ra, sizeof ra, 0, (struct sockaddr *)&to, sizeof to) < 0) {
            fprintf(stderr, "ra-responder: send: %s\n", strerror(errno));
        } else {
            char text[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text);
            fprintf(stderr, "ra-responder: told %s there is no IPv6 router\n", text);
            fflush(stderr);
        }
    }
}
