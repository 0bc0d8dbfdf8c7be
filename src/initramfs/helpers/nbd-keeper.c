/*
 * diskless-nbd-keeper: keeps an NBD root alive across server restarts.
 *
 * Usage: diskless-nbd-keeper DEVICE SERVER-IP[,SERVER-IP…] PORT EXPORT [DEAD-TIMEOUT-S [REQUEST-TIMEOUT-S]]
 *
 * The first server is the one the root is attached to; the others (every boot server of a site
 * exports the same versions by the same name and bytes) are where a reconnect goes next.
 *
 * Why it exists. /init attaches the root with nbd-client in netlink mode, which hands the
 * connected socket to the kernel and exits. When that TCP connection ends (the server was
 * killed or restarted), the kernel's nbd driver marks the socket dead and, unless the device
 * has a dead-connection timeout, fails every later request with EIO at once ("Dead connection,
 * failed to find a fallback", drivers/block/nbd.c nbd_handle_cmd/find_fallback): a root
 * filesystem would be lost for good. Debian 12's nbd-client (3.24) can neither set
 * NBD_ATTR_DEAD_CONN_TIMEOUT nor reconnect a netlink device (its -persist only works with the
 * ioctl interface, where requests made while the server is down still fail with EIO). So:
 *
 *  1. NBD_CMD_RECONFIGURE sets NBD_ATTR_DEAD_CONN_TIMEOUT: requests that find the socket dead
 *     wait that long for a new one (wait_for_reconnect) instead of failing; and
 *     NBD_ATTR_TIMEOUT: a request already sent on a socket that then dies is requeued after
 *     that long (nbd_xmit_timeout requeues on a single connection only when a timeout is set)
 *     and waits the same way.
 *  2. It listens on the "nbd_mc_group" multicast group for NBD_CMD_LINK_DEAD, which the kernel
 *     sends when it marks a socket dead (nbd_mark_nsock_dead -> nbd_dead_link_work).
 *  3. It then connects again (NBD fixed-newstyle handshake, NBD_OPT_EXPORT_NAME of the same
 *     export, size checked), to the next server of its list first and on round the list (the
 *     lost one last), a round every 2 s, and gives the socket to the kernel with
 *     NBD_CMD_RECONFIGURE + NBD_ATTR_SOCKETS (nbd_reconnect_socket replaces the dead one and
 *     wakes the waiting requests, which are then sent on the new connection).
 *
 * /init runs it once the root is mounted: it exits 0 when the timeouts are set and a child
 * watches on. That child survives switch_root (static and mlocked: it never reads the root it
 * keeps, and switch_root deleting the initramfs files does not touch a running binary), and marks itself with argv[0][0] = '@' so systemd's shutdown leaves it alone while
 * the root still needs it (systemd's "root storage daemon" convention). It logs to /dev/kmsg,
 * so its lines reach the console and the journal.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static int kmsg = -1;
static const char *device;

static void say(int level, const char *fmt, ...) {
    char line[512];
    int n = snprintf(line, sizeof line, "<%d>diskless-nbd: %s: ", level, device);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line) n = sizeof line - 1;
    if (kmsg >= 0 && write(kmsg, line, (size_t)n) >= 0) return;
    fprintf(stderr, "%s\n", strchr(line, '>') + 1);
}

/* ---- generic netlink ------------------------------------------------------------------ */

struct msg {
    char buf[512];
    size_t len;
};

static void msg_init(struct msg *m, uint16_t type, uint8_t cmd, uint8_t version) {
    memset(m, 0, sizeof *m);
    struct nlmsghdr *h = (struct nlmsghdr *)m->buf;
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    struct genlmsghdr *g = (struct genlmsghdr *)(m->buf + NLMSG_HDRLEN);
    g->cmd = cmd;
    g->version = version;
    m->len = NLMSG_HDRLEN + GENL_HDRLEN;
}

static struct nlattr *msg_attr(struct msg *m, uint16_t type, const void *data, size_t len) {
    struct nlattr *a = (struct nlattr *)(m->buf + m->len);
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    if (data) memcpy((char *)a + NLA_HDRLEN, data, len);
    m->len += NLA_ALIGN(a->nla_len);
    return a;
}

static void msg_nest_end(struct msg *m, struct nlattr *a) {
    a->nla_len = (uint16_t)(m->buf + m->len - (char *)a);
}

/* Sends m on fd and reads until the kernel's ACK (or error); the first non-ACK reply, if
 * any, is copied into reply. Returns 0 or -errno. */
static int nl_call(int fd, struct msg *m, char *reply, size_t reply_size) {
    static uint32_t seq;
    struct nlmsghdr *h = (struct nlmsghdr *)m->buf;
    h->nlmsg_len = (uint32_t)m->len;
    h->nlmsg_seq = ++seq;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -errno;
    char buf[8192];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n); r = NLMSG_NEXT(r, n)) {
            if (r->nlmsg_seq != h->nlmsg_seq) continue;
            if (r->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
            if (reply && r->nlmsg_len <= reply_size) memcpy(reply, r, r->nlmsg_len);
        }
    }
}

/* Walks the attributes that follow a generic netlink header. */
#define FOR_ATTRS(a, start, len) \
    for (struct nlattr *a = (struct nlattr *)(start); (char *)a + NLA_HDRLEN <= (char *)(start) + (len) && a->nla_len >= NLA_HDRLEN; \
         a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))

/* The "nbd" family's id and its multicast group's id. */
static int resolve_family(int fd, uint16_t *family, uint32_t *group) {
    struct msg m;
    msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
    msg_attr(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME, sizeof NBD_GENL_FAMILY_NAME);
    char reply[4096];
    memset(reply, 0, sizeof reply);
    int e = nl_call(fd, &m, reply, sizeof reply);
    if (e < 0) return e;
    struct nlmsghdr *r = (struct nlmsghdr *)reply;
    char *attrs = reply + NLMSG_HDRLEN + GENL_HDRLEN;
    size_t len = r->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
    *family = 0;
    *group = 0;
    FOR_ATTRS(a, attrs, len) {
        if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) *family = *(uint16_t *)((char *)a + NLA_HDRLEN);
        if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
            FOR_ATTRS(g, (char *)a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN) {
                const char *name = NULL;
                uint32_t id = 0;
                FOR_ATTRS(f, (char *)g + NLA_HDRLEN, g->nla_len - NLA_HDRLEN) {
                    if (f->nla_type == CTRL_ATTR_MCAST_GRP_NAME) name = (char *)f + NLA_HDRLEN;
                    if (f->nla_type == CTRL_ATTR_MCAST_GRP_ID) id = *(uint32_t *)((char *)f + NLA_HDRLEN);
                }
                if (name && strcmp(name, NBD_GENL_MCAST_GROUP_NAME) == 0) *group = id;
            }
        }
    }
    return *family && *group ? 0 : -ENOENT;
}

/* NBD_CMD_RECONFIGURE of device `index`: timeouts (if non-zero) and a new socket (if >= 0). */
static int reconfigure(int fd, uint16_t family, uint32_t index, uint64_t dead_s, uint64_t request_s, int sock) {
    struct msg m;
    msg_init(&m, family, NBD_CMD_RECONFIGURE, NBD_GENL_VERSION);
    msg_attr(&m, NBD_ATTR_INDEX, &index, sizeof index);
    if (dead_s) msg_attr(&m, NBD_ATTR_DEAD_CONN_TIMEOUT, &dead_s, sizeof dead_s);
    if (request_s) msg_attr(&m, NBD_ATTR_TIMEOUT, &request_s, sizeof request_s);
    if (sock >= 0) {
        struct nlattr *socks = msg_attr(&m, NBD_ATTR_SOCKETS, NULL, 0);
        struct nlattr *item = msg_attr(&m, NBD_SOCK_ITEM, NULL, 0);
        uint32_t u = (uint32_t)sock;
        msg_attr(&m, NBD_SOCK_FD, &u, sizeof u);
        msg_nest_end(&m, item);
        msg_nest_end(&m, socks);
    }
    return nl_call(fd, &m, NULL, 0);
}

/* ---- NBD handshake (doc/proto.md: fixed newstyle, NBD_OPT_EXPORT_NAME) ------------------- */

static int read_all(int fd, void *p, size_t n) {
    for (size_t done = 0; done < n;) {
        ssize_t r = read(fd, (char *)p + done, n - done);
        if (r == 0) return -ECONNRESET;
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n) {
    for (size_t done = 0; done < n;) {
        ssize_t r = write(fd, (const char *)p + done, n - done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)r;
    }
    return 0;
}

static uint64_t be64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

static void put_be64(unsigned char *b, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (unsigned char)v;
}

static void set_io_timeout(int s, int seconds) {
    struct timeval tv = {.tv_sec = seconds};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A connected, negotiated socket for the export, or -errno; *why says what failed. */
static int connect_export(const struct sockaddr_storage *addr, socklen_t addrlen, const char *export, uint64_t want_size, const char **why) {
    int s = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (s < 0) return *why = "socket", -errno;
    /* Bounded connect and handshake, so a half-up server cannot stall the retry loop. */
    set_io_timeout(s, 10);
    int e;
    unsigned char b[152];
    if (connect(s, (const struct sockaddr *)addr, addrlen) < 0) { e = -errno; *why = "connect"; goto fail; }
    if ((e = read_all(s, b, 18)) < 0) { *why = "reading the greeting"; goto fail; }
    if (memcmp(b, "NBDMAGIC", 8) != 0 || be64(b + 8) != 0x49484156454F5054ULL) { e = -EPROTO; *why = "not a newstyle NBD server"; goto fail; }
    uint16_t server_flags = (uint16_t)(b[16] << 8 | b[17]);
    int no_zeroes = server_flags & 2; /* NBD_FLAG_NO_ZEROES */
    uint32_t client_flags = htonl(1u | (no_zeroes ? 2u : 0u)); /* NBD_FLAG_C_FIXED_NEWSTYLE, _C_NO_ZEROES */
    size_t nlen = strlen(export);
    unsigned char opt[16];
    put_be64(opt, 0x49484156454F5054ULL); /* IHAVEOPT */
    uint32_t o = htonl(1), l = htonl((uint32_t)nlen); /* NBD_OPT_EXPORT_NAME */
    memcpy(opt + 8, &o, 4);
    memcpy(opt + 12, &l, 4);
    if ((e = write_all(s, &client_flags, 4)) < 0 || (e = write_all(s, opt, 16)) < 0 || (e = write_all(s, export, nlen)) < 0) { *why = "sending the export name"; goto fail; }
    /* The server closes the connection when it has no such export. */
    if ((e = read_all(s, b, no_zeroes ? 10 : 134)) < 0) { *why = "reading the export reply (no such export?)"; goto fail; }
    uint64_t size = be64(b);
    if (want_size && size != want_size) { e = -EMEDIUMTYPE; *why = "the export changed size"; goto fail; }
    /* The kernel reads this socket with blocking calls: no timeouts of ours may stay on it. */
    set_io_timeout(s, 0);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return s;
fail:
    close(s);
    return e;
}

static uint64_t device_bytes(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/sys/block/%s/size", name);
    FILE *f = fopen(path, "r");
    unsigned long long sectors = 0;
    if (f) {
        if (fscanf(f, "%llu", &sectors) != 1) sectors = 0;
        fclose(f);
    }
    return (uint64_t)sectors * 512;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define MAX_SERVERS 16

struct server {
    const char *name;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

/* An IP address (v4 or v6) and port as a socket address; 0 when `name` is no address. */
static int server_address(struct server *sv, const char *name, int port) {
    memset(sv, 0, sizeof *sv);
    sv->name = name;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&sv->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sv->addr;
    if (inet_pton(AF_INET, name, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sv->addrlen = sizeof *v4;
        return 1;
    }
    if (inet_pton(AF_INET6, name, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sv->addrlen = sizeof *v6;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s DEVICE SERVER-IP[,SERVER-IP...] PORT EXPORT [DEAD-TIMEOUT-S [REQUEST-TIMEOUT-S]]\n", argv[0]);
        return 2;
    }
    device = argv[1];
    const char *export = argv[4];
    int port = atoi(argv[3]);
    uint64_t dead_s = argc > 5 ? strtoull(argv[5], NULL, 10) : 3600;
    uint64_t request_s = argc > 6 ? strtoull(argv[6], NULL, 10) : 30;
    const char *name = strrchr(device, '/') ? strrchr(device, '/') + 1 : device;
    unsigned index;
    if (sscanf(name, "nbd%u", &index) != 1) {
        fprintf(stderr, "%s: %s is not an NBD device\n", argv[0], device);
        return 2;
    }
    kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

    /* The server list, split in place: argv[2] is ours to cut (argv[0] is changed below too). */
    struct server servers[MAX_SERVERS];
    int nservers = 0;
    for (char *save = NULL, *tok = strtok_r(argv[2], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nservers == MAX_SERVERS) break;
        if (!server_address(&servers[nservers], tok, port)) {
            say(4, "cannot keep the root connected: %s is not an IP address", tok);
            return 2;
        }
        nservers++;
    }
    if (nservers == 0) {
        say(4, "cannot keep the root connected: no server named");
        return 2;
    }
    int current = 0;

    int cmd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    int events = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    uint16_t family = 0;
    uint32_t group = 0;
    int e = cmd < 0 || events < 0 ? -errno : resolve_family(cmd, &family, &group);
    if (e < 0) {
        say(4, "cannot keep the root connected: no nbd netlink family (%s)", strerror(-e));
        return 1;
    }
    /* Subscribe before setting the timeouts, so no LINK_DEAD after that can be missed. Bound
     * first: an unbound netlink socket has port id 0, the kernel's own, and the kernel skips
     * the sender's port id when it delivers a multicast (net/netlink do_one_broadcast). */
    struct sockaddr_nl me = {.nl_family = AF_NETLINK};
    if (bind(events, (struct sockaddr *)&me, sizeof me) < 0 ||
        setsockopt(events, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
        say(4, "cannot keep the root connected: joining %s: %s", NBD_GENL_MCAST_GROUP_NAME, strerror(errno));
        return 1;
    }
    if ((e = reconfigure(cmd, family, index, dead_s, request_s, -1)) < 0) {
        say(4, "cannot keep the root connected: setting timeouts: %s", strerror(-e));
        return 1;
    }
    uint64_t size = device_bytes(name);

    /* Set up: the caller (/init) learns that from our exit status; the watcher goes on in a
     * child, which from here on is part of the root filesystem's storage. */
    pid_t child = fork();
    if (child < 0) {
        say(4, "cannot keep the root connected: fork: %s", strerror(errno));
        return 1;
    }
    if (child > 0) return 0;
    argv[0][0] = '@';
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    setsid();
    mlockall(MCL_CURRENT | MCL_FUTURE);
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
        if (write(adj, "-1000", 5) < 0) { /* best effort */ }
        close(adj);
    }
    say(5, "keeping export %s from %s:%d attached (requests wait up to %llu s for a reconnect; %d other server(s) to try)", export, servers[0].name, port, (unsigned long long)dead_s, nservers - 1);

    for (;;) {
        char buf[8192];
        ssize_t n = recv(events, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS) n = 0; /* events were dropped: check by reconnecting below */
            else {
                say(4, "event socket failed: %s", strerror(errno));
                sleep(1);
                continue;
            }
        }
        int dead = n == 0;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            struct genlmsghdr *g = NLMSG_DATA(h);
            if (h->nlmsg_type != family || g->cmd != NBD_CMD_LINK_DEAD) continue;
            FOR_ATTRS(a, (char *)g + GENL_HDRLEN, h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN) {
                if (a->nla_type == NBD_ATTR_INDEX && *(uint32_t *)((char *)a + NLA_HDRLEN) == index) dead = 1;
            }
        }
        if (!dead) continue;
        say(4, "connection to %s:%d lost; reconnecting", servers[current].name, port);
        double t0 = now_s();
        const char *last_why = NULL;
        int last_error = 0;
        /* Each attempt asks the servers after the lost one in list order, the lost one last. */
        for (int attempt = 1;; attempt++) {
            const char *why = "";
            int s = -1, on = current;
            for (int k = 1; k <= nservers; k++) {
                on = (current + k) % nservers;
                s = connect_export(&servers[on].addr, servers[on].addrlen, export, size, &why);
                if (s >= 0) break;
                if (nservers > 1 && attempt == 1) say(4, "reconnect to %s:%d failed: %s: %s", servers[on].name, port, why, strerror(-s));
            }
            if (s >= 0) {
                e = reconfigure(cmd, family, index, 0, 0, s);
                close(s); /* the kernel holds its own reference now */
                if (e == 0) {
                    say(4, "reconnected to %s:%d after %.1f s (attempt %d)", servers[on].name, port, now_s() - t0, attempt);
                    current = on;
                    break;
                }
                why = "handing the socket to the kernel";
                s = e;
            }
            /* Each new reason once, then every 30 s while the servers stay away. */
            if (why != last_why || s != last_error || attempt % 15 == 0) say(4, "reconnect attempt %d failed: %s: %s", attempt, why, strerror(-s));
            last_why = why;
            last_error = s;
            sleep(2);
        }
    }
}
