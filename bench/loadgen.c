/*
 * loadgen: HTTP/1.1 keep-alive load generator for the cemscan benchmarks.
 *
 *   loadgen -p PORT [-a 127.0.0.1] [-c CONNECTIONS] [-d SECONDS] [-u /status]
 *           [-i INTERVAL_US] [-w WARMUP_S] [-o SAMPLES_FILE]
 *
 * CONNECTIONS keep-alive connections (TCP_NODELAY), one request in flight on
 * each (no pipelining): a request is sent when the previous answer is
 * complete (closed loop), or, with -i, no sooner than INTERVAL_US after the
 * previous request on that connection was sent (paced).  One epoll loop,
 * one thread.  Runs for a fixed time, WARMUP_S of it not counted, then
 * prints one line of JSON: requests, errors, req/s and latency percentiles
 * in microseconds.  -o writes every counted request as
 * "<send time, CLOCK_REALTIME ns> <latency ns>" lines.
 *
 * Answers must carry Content-Length (twisted.web sets it for any resource
 * that returns bytes); a connection the server closes is reopened.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 10000
#define BUF_SIZE 65536
#define MAX_SAMPLES 50000000L

struct conn {
    int fd;
    int busy;              /* a request is in flight */
    uint64_t sent_mono;    /* when it was sent */
    uint64_t sent_real;
    uint64_t next_send;    /* paced mode: not before this */
    size_t have;           /* bytes of the answer so far */
    char buf[BUF_SIZE];
};

static struct conn *conns;
static int nconns = 1, epfd;
static struct sockaddr_in addr;
static char request[1024];
static size_t request_len;
static uint64_t *lat, *when;
static long nsamples, errors, reconnects, uncounted;
static uint64_t count_from, interval_ns;

static uint64_t now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void open_conn(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    c->busy = 0;
    c->have = 0;
}

static void reopen(struct conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    reconnects++;
    open_conn(c);
}

static void send_request(struct conn *c) {
    c->sent_mono = now_ns(CLOCK_MONOTONIC);
    c->sent_real = now_ns(CLOCK_REALTIME);
    ssize_t n = write(c->fd, request, request_len);
    if (n != (ssize_t)request_len) {  /* a 60-byte request fits any socket buffer */
        errors++;
        reopen(c);
        return;
    }
    c->busy = 1;
    c->have = 0;
}

/* Length of a complete answer in buf, 0 if not complete yet, -1 if unusable. */
static long answer_length(const char *buf, size_t have) {
    const char *end = memmem(buf, have, "\r\n\r\n", 4);
    if (!end) return have >= BUF_SIZE ? -1 : 0;
    size_t head = (size_t)(end - buf) + 4;
    const char *p = buf;
    long length = -1;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
        if (!eol) break;
        if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0) length = atol(p + 15);
        p = eol + 2;
    }
    if (length < 0) return -1;
    if (head + (size_t)length > BUF_SIZE) return -1;
    return have >= head + (size_t)length ? (long)(head + (size_t)length) : 0;
}

static void readable(struct conn *c, uint64_t now) {
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->have, BUF_SIZE - c->have);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {  /* closed (or reset): count the request lost, start over */
            if (c->busy) errors++;
            reopen(c);
            if (!interval_ns) send_request(c);
            return;
        }
        c->have += (size_t)n;
        long len = answer_length(c->buf, c->have);
        if (len < 0) {
            errors++;
            reopen(c);
            if (!interval_ns) send_request(c);
            return;
        }
        if (len == 0) continue;
        if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) errors++;
        uint64_t done = now_ns(CLOCK_MONOTONIC);
        if (c->sent_mono >= count_from && nsamples < MAX_SAMPLES) {
            lat[nsamples] = done - c->sent_mono;
            when[nsamples] = c->sent_real;
            nsamples++;
        } else {
            uncounted++;
        }
        c->busy = 0;
        memmove(c->buf, c->buf + len, c->have - (size_t)len);
        c->have -= (size_t)len;
        if (interval_ns) {
            c->next_send = c->sent_mono + interval_ns;
        } else {
            send_request(c);
        }
        (void)now;
        return;
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *sorted, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = "/status", *out = NULL;
    int port = 0;
    double duration = 3, warmup = 0.3;
    int opt;
    while ((opt = getopt(argc, argv, "a:p:c:d:u:i:w:o:")) != -1) {
        switch (opt) {
        case 'a': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'u': path = optarg; break;
        case 'i': interval_ns = (uint64_t)(atof(optarg) * 1000.0); break;
        case 'w': warmup = atof(optarg); break;
        case 'o': out = optarg; break;
        default:
            fprintf(stderr, "usage: %s -p PORT [-a ADDR] [-c CONNS] [-d SECONDS] [-u PATH] [-i INTERVAL_US] "
                            "[-w WARMUP_S] [-o SAMPLES]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || nconns < 1 || nconns > MAX_CONNS || duration <= 0 || duration > 600) {
        fprintf(stderr, "loadgen: need -p PORT, 1..%d connections, 0..600 seconds\n", MAX_CONNS);
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: %s is not an IPv4 address\n", host);
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: cemscan-loadgen\r\n\r\n",
                                   path, host, port);
    long cap = (long)((duration + 1) * 400000.0 * (interval_ns ? 0.1 : 1.0));
    if (cap > MAX_SAMPLES) cap = MAX_SAMPLES;
    lat = malloc(sizeof(uint64_t) * (size_t)cap);
    when = malloc(sizeof(uint64_t) * (size_t)cap);
    conns = calloc((size_t)nconns, sizeof(struct conn));
    if (!lat || !when || !conns) die("malloc");
    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    for (int i = 0; i < nconns; i++) open_conn(&conns[i]);

    uint64_t start = now_ns(CLOCK_MONOTONIC);
    count_from = start + (uint64_t)(warmup * 1e9);
    uint64_t stop = start + (uint64_t)(duration * 1e9);
    for (int i = 0; i < nconns; i++) send_request(&conns[i]);
    struct epoll_event events[256];
    long loops = 0;
    for (;;) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= stop) break;
        int timeout_ms = (int)((stop - now) / 1000000ULL) + 1;
        if (interval_ns) {
            for (int i = 0; i < nconns; i++) {
                struct conn *c = &conns[i];
                if (!c->busy) {
                    if (c->next_send <= now) send_request(c);
                    else if ((int)((c->next_send - now) / 1000000ULL) < timeout_ms)
                        timeout_ms = (int)((c->next_send - now) / 1000000ULL);
                }
            }
        }
        int n = epoll_wait(epfd, events, 256, timeout_ms);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns(CLOCK_MONOTONIC);
        for (int i = 0; i < n; i++) readable(events[i].data.ptr, now);
        if (++loops > 2000000000L) break;  /* bounded, whatever happens */
    }
    double counted_s = (double)(stop - count_from) / 1e9;
    if (out) {
        FILE *f = fopen(out, "w");
        if (!f) die(out);
        for (long i = 0; i < nsamples; i++) fprintf(f, "%llu %llu\n", (unsigned long long)when[i],
                                                   (unsigned long long)lat[i]);
        fclose(f);
    }
    qsort(lat, (size_t)nsamples, sizeof(uint64_t), cmp_u64);
    double sum = 0;
    for (long i = 0; i < nsamples; i++) sum += (double)lat[i];
    printf("{\"connections\": %d, \"seconds\": %.3f, \"requests\": %ld, \"errors\": %ld, \"reconnects\": %ld, "
           "\"rps\": %.1f, \"mean_us\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
           "\"p999_us\": %.1f, \"max_us\": %.1f}\n",
           nconns, counted_s, nsamples, errors, reconnects, (double)nsamples / counted_s,
           nsamples ? sum / (double)nsamples / 1000.0 : 0.0, pct(lat, nsamples, 50), pct(lat, nsamples, 90),
           pct(lat, nsamples, 99), pct(lat, nsamples, 99.9), nsamples ? (double)lat[nsamples - 1] / 1000.0 : 0.0);
    return 0;
}
