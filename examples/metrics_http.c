/*
 * metrics_http: a dialer that serves its routing metrics over HTTP, for
 * Prometheus to scrape.
 *
 *     metrics_http [--port N] [--duration S]
 *
 *     --port N       TCP port on 127.0.0.1; 0 lets the kernel choose (9464)
 *     --duration S   stop after S seconds (30); 0: until SIGINT/SIGTERM
 *
 * Three carriers: carrier-a and carrier-b share the traffic (priority 1),
 * carrier-c is the backup (priority 2). A call is placed every 20 ms on
 * the real clock; carrier-b times out every call from 2 s to 8 s into the
 * run, so it is ejected, tried again, ejected for longer and finally comes
 * back. The router's log lines go to stderr as they happen, and
 *
 *     curl http://127.0.0.1:PORT/metrics
 *
 * shows the same story as numbers. Once listening, the program prints one
 * line, "listening on http://127.0.0.1:PORT/metrics", so a script that
 * asked for port 0 learns the port.
 *
 * Everything runs in one thread around poll(): the calls are due on a
 * fixed schedule, the router says when it next has work
 * (fo_router_next_timeout_ms()), and HTTP clients are served without
 * blocking, at most MAX_CONNS at a time. Each has a deadline, and when all
 * slots are taken a new client replaces the one that has waited longest
 * without finishing its request, so slow or silent clients cannot keep a
 * scraper out. One request per connection: every response says
 * "Connection: close".
 *
 * IPv4 loopback only: metrics say which carriers are failing, which is not
 * for every host on the network to read.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <failover/failover.h>

#define MS            FO_MILLISECOND_NS
#define SEC           FO_SECOND_NS
#define NCARRIERS     3
#define CALL_EVERY_NS (20 * MS)
#define OUTAGE_FROM   (2 * SEC) /* carrier-b times out from here ... */
#define OUTAGE_TO     (8 * SEC) /* ... to here, into the run */
#define MAX_CONNS     8
#define REQ_MAX       8192        /* a larger request head is refused */
#define CONN_TIMEOUT  (5 * SEC)   /* a whole exchange, accept to close */
#define LINGER_NS     (500 * MS)  /* reading what a client still sends */
#define METRICS_MAX   (16u << 20) /* never grow the buffer beyond this */

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_TEXT    "text/plain; charset=utf-8"

static struct carrier {
    const char *name;
    uint32_t priority, weight;
    fo_route_id id;
    unsigned attempts, carried; /* attempts sent, calls it ended */
} carriers[NCARRIERS] = {
    {"carrier-a", 1, 100, 0, 0, 0},
    {"carrier-b", 1, 100, 0, 0, 0}, /* broken for a while */
    {"carrier-c", 2, 100, 0, 0, 0}, /* backup: taken when both are out */
};

enum conn_state {
    CONN_FREE,
    CONN_READING,  /* collecting the request head */
    CONN_WRITING,  /* sending the response */
    CONN_DRAINING, /* response sent and write side shut: wait for EOF */
};

static struct conn {
    enum conn_state state;
    int fd;
    uint64_t deadline_ns;
    char req[REQ_MAX];
    size_t req_len;
    char *resp; /* head and body, malloc'd */
    size_t resp_len, resp_sent;
} conns[MAX_CONNS];

static uint64_t start_ns;
static volatile sig_atomic_t stopping;
static char *metrics_buf; /* grows to fit the text, reused */
static size_t metrics_cap;
static unsigned calls, answered, busy, failed_over, failed, scrapes;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static uint64_t now_ns(void)
{
    return fo_clock_monotonic_ns();
}

static double elapsed_s(void)
{
    return (double)(now_ns() - start_ns) / 1e9;
}

/* ---- the router's log ---------------------------------------------------- */

/* When an event happened, in seconds into the run: the router's default
 * clock is CLOCK_MONOTONIC, the clock start_ns was read from. */
static double event_s(const fo_event *event)
{
    return event->time_ns >= start_ns
               ? (double)(event->time_ns - start_ns) / 1e9
               : 0.0;
}

/* fo_log_cb: runs on the thread whose call caused the event, which here is
 * the only thread, so printing needs no lock. */
static void on_log(fo_router *router, fo_log_level level, const char *message,
                   const fo_event *event, void *userdata)
{
    (void)router;
    (void)userdata;
    fprintf(stderr, "%9.3f  %-7s %s\n", event_s(event),
            fo_log_level_name(level), message);
}

/* ---- the simulated network ----------------------------------------------- */

/* xorshift32 with a fixed seed: the callee's behaviour repeats run to run
 * (which carrier a call lands on still depends on timing). */
static uint32_t next_random(void)
{
    static uint32_t x = 2463534242u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* What happens to an attempt sent to carrier c at t_ns into the run. In a
 * real dialer this is an INVITE whose outcome arrives seconds later. */
static fo_result dial(int c, uint64_t t_ns)
{
    if (c == 1 && t_ns >= OUTAGE_FROM && t_ns < OUTAGE_TO)
        return FO_RESULT_TIMEOUT;
    return next_random() % 100 < 6 ? FO_RESULT_BUSY : FO_RESULT_SUCCESS;
}

static int carrier_of(fo_route_id id)
{
    for (int c = 0; c < NCARRIERS; c++)
        if (carriers[c].id == id)
            return c;
    return -1;
}

/* One call: down the list with the same attempt until a carrier does its
 * job or the attempts run out. Returns FO_OK, or an error that means this
 * program is wrong, not that the call failed. */
static int place_call(fo_router *router)
{
    fo_attempt attempt;
    fo_route_id route;
    fo_result result = FO_RESULT_TIMEOUT;
    uint64_t t = now_ns() - start_ns;
    int rc, c = -1, tries = 0;

    if ((rc = fo_attempt_init(&attempt)) != FO_OK)
        return rc;
    calls++;
    while ((rc = fo_pick_route(router, &attempt, &route)) == FO_OK) {
        if ((c = carrier_of(route)) < 0)
            return FO_ENOENT;
        carriers[c].attempts++;
        tries++;
        result = dial(c, t);
        /* Every attempt is reported, also those of a call that moves on. */
        if ((rc = fo_report_result(router, route, result, &attempt)) != FO_OK)
            return rc;
        if (fo_result_default_class(result) != FO_CLASS_ROUTE_FAULT)
            break;
    }
    /* Nothing left to try, or max_attempts used: the call failed, which
     * is an outcome to count, not an error. */
    if (rc == FO_ENOROUTE || rc == FO_ELIMIT) {
        failed++;
        return FO_OK;
    }
    if (rc != FO_OK)
        return rc;
    carriers[c].carried++;
    if (tries > 1)
        failed_over++;
    if (result == FO_RESULT_SUCCESS)
        answered++;
    else
        busy++;
    return FO_OK;
}

/* ---- HTTP ---------------------------------------------------------------- */

/* The metrics text in metrics_buf; returns its length or a negative
 * fo_error. Like snprintf(), the library says how long the whole text is
 * when it does not fit, so one retry with a larger buffer normally
 * suffices; the loop covers routes added between the two calls. */
static int64_t collect_metrics(fo_router *router)
{
    for (int i = 0; i < 8; i++) {
        int64_t n = fo_router_write_metrics(router, metrics_buf, metrics_cap);
        size_t want;
        char *p;

        if (n < 0 || (uint64_t)n < metrics_cap)
            return n;
        if ((uint64_t)n >= METRICS_MAX)
            return FO_ELIMIT;
        want = (size_t)n + (size_t)n / 4 + 1; /* headroom for growth */
        if ((p = realloc(metrics_buf, want)) == NULL)
            return FO_ENOMEM;
        metrics_buf = p;
        metrics_cap = want;
    }
    return FO_ELIMIT;
}

static int is_tchar(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* End of the request head (after the empty line) in buf, or 0. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i - 1] == '\n')
            return i + 1;
        if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
            return i + 1;
    }
    return 0;
}

/* Length of the line at p (without its CRLF or LF) and where the next one
 * starts; -1 if a control character other than a tab is in it. */
static long line_at(const char *p, const char *end, const char **next)
{
    const char *q = p;

    while (q < end && *q != '\n') {
        unsigned char ch = (unsigned char)*q;
        int crlf = ch == '\r' && q + 1 < end && q[1] == '\n';

        /* A CR only as the first half of a CRLF: parsers disagree on what
         * a bare CR means, so it is refused rather than guessed at. */
        if ((ch < 0x20 && ch != '\t' && !crlf) || ch == 0x7f)
            return -1;
        q++;
    }
    *next = q < end ? q + 1 : q;
    if (q > p && q[-1] == '\r')
        q--;
    return (long)(q - p);
}

/* Reads the request head; returns the status to answer with. *head is
 * set for HEAD requests. The path decides before the method: a method
 * /metrics does not support is 405, anything on another path is 404. */
static int parse_request(const char *req, size_t len, int *head)
{
    const char *end = req + len, *next, *p = req, *target;
    long n = line_at(p, end, &next);
    size_t mlen = 0, tlen = 0, plen;

    *head = 0;
    if (n <= 0)
        return 400;
    /* request-line = method SP request-target SP HTTP-version */
    while (mlen < (size_t)n && is_tchar((unsigned char)p[mlen]))
        mlen++;
    if (mlen == 0 || mlen >= (size_t)n || p[mlen] != ' ')
        return 400;
    target = p + mlen + 1;
    while (mlen + 1 + tlen < (size_t)n && target[tlen] > ' ' &&
           target[tlen] < 0x7f)
        tlen++;
    /* What is left of the line must be exactly SP HTTP-version. */
    if (tlen == 0 || target[0] != '/' || (size_t)n - mlen - 1 - tlen != 9 ||
        target[tlen] != ' ' ||
        (memcmp(target + tlen + 1, "HTTP/1.1", 8) != 0 &&
         memcmp(target + tlen + 1, "HTTP/1.0", 8) != 0))
        return 400;
    /* header-field = field-name ":" field-value, up to the empty line */
    for (p = next; (n = line_at(p, end, &next)) != 0; p = next) {
        long k = 0;

        if (n < 0)
            return 400;
        while (k < n && is_tchar((unsigned char)p[k]))
            k++;
        if (k == 0 || k == n || p[k] != ':')
            return 400;
    }
    for (plen = 0; plen < tlen && target[plen] != '?'; plen++)
        ;
    if (plen != 8 || memcmp(target, "/metrics", 8) != 0)
        return 404;
    if (mlen == 4 && memcmp(req, "HEAD", 4) == 0)
        *head = 1;
    else if (mlen != 3 || memcmp(req, "GET", 3) != 0)
        return 405;
    return 200;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    default:
        return "Internal Server Error";
    }
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->resp);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Builds the response and switches the connection to sending it. */
static void respond(fo_router *router, struct conn *c, int status, int head)
{
    const char *ctype = CT_TEXT, *allow = "", *body = NULL;
    char headers[256], text[64];
    size_t body_len = 0;
    int n;

    if (status == 200) {
        int64_t len = collect_metrics(router);

        if (len >= 0) {
            ctype = CT_METRICS;
            body = metrics_buf;
            body_len = (size_t)len;
            scrapes++;
        } else {
            fprintf(stderr, "%9.3f  metrics: %s\n", elapsed_s(),
                    fo_strerror((int)len));
            status = 500;
        }
    }
    if (status != 200) {
        n = snprintf(text, sizeof text, "%d %s\n", status, status_text(status));
        body = text;
        body_len = (size_t)n;
    }
    if (status == 405)
        allow = "Allow: GET, HEAD\r\n";
    /* HEAD gets the headers GET would, Content-Length included. */
    n = snprintf(headers, sizeof headers,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s"
                 "Connection: close\r\n"
                 "\r\n",
                 status, status_text(status), ctype, body_len, allow);
    c->resp_len = (size_t)n + (head ? 0 : body_len);
    if ((c->resp = malloc(c->resp_len)) == NULL) {
        conn_close(c);
        return;
    }
    memcpy(c->resp, headers, (size_t)n);
    if (!head)
        memcpy(c->resp + n, body, body_len);
    c->resp_sent = 0;
    c->state = CONN_WRITING;
}

/* Does what the connection is waiting for, now that poll() says it can. */
static void conn_service(fo_router *router, struct conn *c)
{
    char sink[512];
    ssize_t n;

    switch (c->state) {
    case CONN_READING:
        n = recv(c->fd, c->req + c->req_len, sizeof c->req - c->req_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR)) {
            conn_close(c); /* gone before asking anything */
        } else if (n > 0) {
            size_t end;
            int status, head;

            c->req_len += (size_t)n;
            if ((end = head_end(c->req, c->req_len)) != 0) {
                status = parse_request(c->req, end, &head);
                respond(router, c, status, head);
            } else if (c->req_len == sizeof c->req) {
                respond(router, c, 400, 0); /* too large to be ours */
            }
        }
        break;
    case CONN_WRITING:
        n = send(c->fd, c->resp + c->resp_sent, c->resp_len - c->resp_sent,
                 MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            conn_close(c);
        } else if (n > 0 && (c->resp_sent += (size_t)n) == c->resp_len) {
            /* Closing with unread input would reset the connection and
             * could destroy the response before the client reads it: shut
             * our side, then read until the client closes its own. */
            shutdown(c->fd, SHUT_WR);
            c->state = CONN_DRAINING;
            if (c->deadline_ns > now_ns() + LINGER_NS)
                c->deadline_ns = now_ns() + LINGER_NS;
        }
        break;
    case CONN_DRAINING:
        n = recv(c->fd, sink, sizeof sink, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR))
            conn_close(c);
        break;
    case CONN_FREE:
        break;
    }
}

/* The slot for a new client: a free one, else the one whose client has
 * waited longest without completing its request (a scraper sends its
 * request at once, so only an idle or slow client is ever given up this
 * way). NULL if every slot is busy answering. */
static struct conn *free_slot(int evict)
{
    struct conn *oldest = NULL;

    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &conns[i];

        if (c->state == CONN_FREE)
            return c;
        if (c->state == CONN_READING &&
            (oldest == NULL || c->deadline_ns < oldest->deadline_ns))
            oldest = c;
    }
    if (oldest != NULL && evict)
        conn_close(oldest);
    return oldest;
}

static void accept_clients(int lfd)
{
    struct conn *c;
    int fd, evicted = 0;

    /* As long as clients wait and a slot can be had, but giving up at
     * most one client per round: a client accepted a moment ago gets a
     * poll() to send its request before a flood can push it out. */
    while ((c = free_slot(0)) != NULL && (c->state == CONN_FREE || !evicted) &&
           (fd = accept(lfd, NULL, NULL)) >= 0) {
        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
            close(fd);
            continue;
        }
        evicted |= c->state != CONN_FREE;
        c = free_slot(1);
        c->fd = fd;
        c->state = CONN_READING;
        c->req_len = 0;
        c->deadline_ns = now_ns() + CONN_TIMEOUT;
    }
}

static int open_listener(unsigned port, unsigned *bound)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

/* ---- setup and the loop -------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: metrics_http [--port N] [--duration S]\n");
    exit(2);
}

static unsigned long number(const char *s, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
        usage();
    return v;
}

/* Milliseconds from now until t, rounded up, as a poll() timeout. */
static int ms_until(uint64_t now, uint64_t t)
{
    uint64_t ms = t <= now ? 0 : (t - now + MS - 1) / MS;

    return ms > 60000 ? 60000 : (int)ms;
}

static int setup(fo_router **out)
{
    fo_router_options opts;
    fo_router *router;
    int rc;

    /* 3 route faults in a row eject a carrier (the default). The first
     * hold-down is 4 s, then 6 s: long enough to watch on a scrape, short
     * enough that carrier-b is back within the run. Two ejections stay
     * below flap damping's threshold; a third within minutes would
     * suppress carrier-b for longer than this program runs. */
    FO_ROUTER_OPTIONS_INIT(&opts);
    opts.max_attempts = 3;
    opts.hold_down_ns = 4 * SEC;
    if ((rc = fo_router_new(&router, &opts)) != FO_OK) {
        fprintf(stderr, "fo_router_new: %s\n", fo_strerror(rc));
        return rc;
    }
    /* Before the routes, so nothing the router says is missed. */
    if ((rc = fo_router_set_log_cb(router, FO_LOG_INFO, on_log, NULL)) !=
        FO_OK) {
        fprintf(stderr, "fo_router_set_log_cb: %s\n", fo_strerror(rc));
        fo_router_free(router);
        return rc;
    }
    for (int c = 0; c < NCARRIERS; c++) {
        rc = fo_route_add(router, carriers[c].name, carriers[c].priority,
                          carriers[c].weight, 0, &carriers[c].id);
        if (rc != FO_OK) {
            fprintf(stderr, "fo_route_add %s: %s\n", carriers[c].name,
                    fo_strerror(rc));
            fo_router_free(router);
            return rc;
        }
    }
    *out = router;
    return FO_OK;
}

int main(int argc, char **argv)
{
    struct pollfd pfds[MAX_CONNS + 1];
    struct conn *polled[MAX_CONNS + 1];
    unsigned long port = 9464, duration_s = 30;
    uint64_t end_ns, next_call_ns;
    unsigned bound;
    struct sigaction sa;
    fo_router *router;
    int lfd, rc = FO_OK, status = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = number(argv[++i], 65535);
        else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            duration_s = number(argv[++i], 365ul * 24 * 3600);
        else
            usage();
    }
    for (int i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;

    /* No SA_RESTART: a signal wakes poll() at once. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    start_ns = now_ns();
    if (setup(&router) != FO_OK)
        return 1;
    if ((lfd = open_listener((unsigned)port, &bound)) < 0) {
        perror("listen on 127.0.0.1");
        fo_router_free(router);
        return 1;
    }
    printf("listening on http://127.0.0.1:%u/metrics\n", bound);
    fflush(stdout);

    end_ns = duration_s > 0 ? start_ns + duration_s * SEC : UINT64_MAX;
    next_call_ns = now_ns();
    while (!stopping) {
        uint64_t now = now_ns();
        int wait, wait_router, npfd = 0;

        if (now >= end_ns)
            break;
        /* 1. The dialer: one call when due. After a stall (a stopped
         *    process, a slow machine) carry on from now rather than
         *    placing the missed calls in a burst. */
        if (now >= next_call_ns) {
            if ((rc = place_call(router)) != FO_OK) {
                fprintf(stderr, "placing a call: %s\n", fo_strerror(rc));
                status = 1;
                break;
            }
            next_call_ns += CALL_EVERY_NS;
            if (next_call_ns < now)
                next_call_ns = now + CALL_EVERY_NS;
        }
        /* 2. The router's time-driven work: ended hold-downs. */
        if ((rc = fo_router_next_timeout_ms(router, &wait_router)) == FO_OK &&
            wait_router == 0 && (rc = fo_router_tick(router)) == FO_OK)
            rc = fo_router_next_timeout_ms(router, &wait_router);
        if (rc != FO_OK) {
            fprintf(stderr, "router: %s\n", fo_strerror(rc));
            status = 1;
            break;
        }
        /* 3. Sleep until a call, the router, a client or a deadline. */
        now = now_ns();
        wait = ms_until(now, next_call_ns < end_ns ? next_call_ns : end_ns);
        if (wait_router >= 0 && wait_router < wait)
            wait = wait_router;
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];

            if (c->state == CONN_FREE)
                continue;
            if (now >= c->deadline_ns) {
                conn_close(c); /* too slow: its slot is worth more */
                continue;
            }
            if (ms_until(now, c->deadline_ns) < wait)
                wait = ms_until(now, c->deadline_ns);
            pfds[npfd].fd = c->fd;
            pfds[npfd].events = c->state == CONN_WRITING ? POLLOUT : POLLIN;
            polled[npfd++] = c;
        }
        /* While every slot is busy answering, new clients wait in the
         * backlog. */
        if (free_slot(0) != NULL) {
            pfds[npfd].fd = lfd;
            pfds[npfd].events = POLLIN;
            polled[npfd++] = NULL;
        }
        if (poll(pfds, (nfds_t)npfd, wait) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            status = 1;
            break;
        }
        for (int i = 0; i < npfd; i++) {
            if (pfds[i].revents == 0)
                continue;
            if (polled[i] == NULL)
                accept_clients(lfd);
            else
                conn_service(router, polled[i]);
        }
    }

    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].state != CONN_FREE)
            conn_close(&conns[i]);
    close(lfd);
    printf("after %.1f s: %u calls, %u answered, %u busy, %u failed over, "
           "%u failed; carried by a/b/c %u/%u/%u; %u scrapes\n",
           elapsed_s(), calls, answered, busy, failed_over, failed,
           carriers[0].carried, carriers[1].carried, carriers[2].carried,
           scrapes);
    if ((rc = fo_router_free(router)) != FO_OK) {
        fprintf(stderr, "fo_router_free: %s\n", fo_strerror(rc));
        status = 1;
    }
    free(metrics_buf);
    return status;
}
