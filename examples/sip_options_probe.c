/*
 * sip_options_probe: keeps SIP carriers under watch with OPTIONS
 * keepalives over UDP, the way a dialer's failover needs it, and prints
 * every change of a carrier's state as it happens.
 *
 *     sip_options_probe [options] NAME=HOST:PORT ...
 *
 *     --interval MS       between probes of a carrier in service (5000)
 *     --down-interval MS  between probes while it is out (interval / 2)
 *     --timeout MS        a probe unanswered by then failed (2000)
 *     --rise N            answers in a row that bring it back (2)
 *     --fall N            failures in a row that take it out (3)
 *     --down CODES        responses that mean "down", e.g. 503,403 (503)
 *     --no-jitter         probe exactly on the interval
 *     --duration S        stop after S seconds (0: until SIGINT/SIGTERM)
 *
 * Everything runs in one thread around poll(): the router says when it
 * next has work (fo_router_next_timeout_ms()) and does it in
 * fo_router_tick(), which calls probe() below for each carrier that is
 * due. probe() only sends the request and returns; the answer, read from
 * the socket later, completes the probe with fo_probe_done(). A request is
 * retransmitted as RFC 3261 asks of non-INVITE transactions (Timer E: from
 * 500 ms, doubling, at most 4 s) until it is answered or times out. Any
 * final response means "alive" unless its code is in the --down list.
 *
 * IPv4 only, to stay short.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <failover/failover.h>

#define MAX_CARRIERS 64
#define MAX_DOWN     16
#define T1_MS        500u
#define T2_MS        4000u
#define MS           FO_MILLISECOND_NS

struct carrier {
    char name[FO_ROUTE_NAME_MAX + 1];
    char host[64]; /* as given, for the Request-URI and To */
    struct sockaddr_in addr;
    fo_route_id route;
    fo_route_state shown; /* the state we last printed */
    unsigned cseq;
    /* the transaction in flight, if any */
    int pending;
    fo_probe_token token;
    char branch[24], call_id[64];
    char request[1024];
    size_t request_len;
    uint64_t expires_ns, retransmit_ns, retransmit_ms;
    /* what we saw */
    unsigned sent, alive, down, unanswered, late;
};

static struct carrier carriers[MAX_CARRIERS];
static int ncarriers;
static int down_codes[MAX_DOWN], ndown;
static int sock = -1;
static char local_ip[INET_ADDRSTRLEN];
static unsigned local_port;
static uint64_t start_ns, timeout_ns;
static uint64_t rnd_state = 88172645463325252ull;
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static uint64_t now_ns(void)
{
    return fo_clock_monotonic_ns();
}

static void random_hex(char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i + 1 < size; i++) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        out[i] = hex[rnd_state & 15];
    }
    out[size - 1] = '\0';
}

/* Prints a line stamped with the seconds since the start. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;

    printf("%9.3f  ", (double)(now_ns() - start_ns) / 1e9);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- the probe: an OPTIONS request ----------------------------------------
 */

static int send_request(const struct carrier *c)
{
    ssize_t n = sendto(sock, c->request, c->request_len, 0,
                       (const struct sockaddr *)&c->addr, sizeof c->addr);

    return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

/* fo_probe_cb: called from fo_router_tick() for a carrier that is due.
 * Sends the request and returns at once. */
static void probe(fo_router *router, fo_route_id route, fo_probe_token token,
                  void *userdata)
{
    struct carrier *c = userdata;
    unsigned port = ntohs(c->addr.sin_port);
    char tag[17];
    int n;

    (void)route;
    if (c->pending)
        c->unanswered++; /* the last one timed out before we noticed */
    random_hex(c->branch, sizeof c->branch);
    random_hex(c->call_id, 25);
    random_hex(tag, sizeof tag);
    c->cseq++;
    n = snprintf(c->request, sizeof c->request,
                 "OPTIONS sip:%s:%u SIP/2.0\r\n"
                 "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK%s;rport\r\n"
                 "Max-Forwards: 70\r\n"
                 "From: <sip:probe@%s:%u>;tag=%s\r\n"
                 "To: <sip:%s:%u>\r\n"
                 "Call-ID: %s@%s\r\n"
                 "CSeq: %u OPTIONS\r\n"
                 "Contact: <sip:probe@%s:%u>\r\n"
                 "Accept: application/sdp\r\n"
                 "User-Agent: libfailover-options-probe/%s\r\n"
                 "Content-Length: 0\r\n\r\n",
                 c->host, port, local_ip, local_port, c->branch, local_ip,
                 local_port, tag, c->host, port, c->call_id, local_ip, c->cseq,
                 local_ip, local_port, fo_version_string());
    c->request_len = (size_t)n;
    c->token = token;
    c->pending = 1;
    c->expires_ns = now_ns() + timeout_ns;
    c->retransmit_ms = T1_MS;
    c->retransmit_ns = now_ns() + T1_MS * MS;
    c->sent++;
    if (send_request(c) != 0) {
        /* Could not even send it (no route to host, ...): failed. */
        c->pending = 0;
        fo_probe_done(router, token, FO_RESULT_UNAVAILABLE);
    }
}

/* Retransmits requests still unanswered; forgets expired ones (the router
 * has timed the probe out by then). Returns ms until the next event. */
static int service_transactions(void)
{
    uint64_t now = now_ns(), next = UINT64_MAX;

    for (int i = 0; i < ncarriers; i++) {
        struct carrier *c = &carriers[i];

        if (!c->pending)
            continue;
        if (now >= c->expires_ns) {
            c->pending = 0;
            c->unanswered++;
            continue;
        }
        if (now >= c->retransmit_ns) {
            (void)send_request(c);
            c->retransmit_ms *= 2;
            if (c->retransmit_ms > T2_MS)
                c->retransmit_ms = T2_MS;
            c->retransmit_ns = now + c->retransmit_ms * MS;
        }
        if (c->retransmit_ns < next)
            next = c->retransmit_ns;
        if (c->expires_ns < next)
            next = c->expires_ns;
    }
    if (next == UINT64_MAX)
        return -1;
    return next <= now ? 0 : (int)((next - now + MS - 1) / MS);
}

/* ---- responses --------------------------------------------------------------
 */

/* The value of header `name` (or its compact form) in msg, or NULL. Only
 * the first occurrence: for Via, the top one, which is ours. */
static const char *header(const char *msg, const char *name,
                          const char *compact, size_t *len)
{
    const char *line = strstr(msg, "\n");

    while (line != NULL && line[1] != '\r' && line[1] != '\n' &&
           line[1] != '\0') {
        const char *p = line + 1, *colon = strchr(p, ':');
        const char *eol = strpbrk(p, "\r\n");
        size_t n;

        if (colon == NULL || eol == NULL || colon > eol)
            break;
        n = (size_t)(colon - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if ((n == strlen(name) && strncasecmp(p, name, n) == 0) ||
            (n == strlen(compact) && strncasecmp(p, compact, n) == 0)) {
            p = colon + 1;
            while (*p == ' ' || *p == '\t')
                p++;
            *len = (size_t)(eol - p);
            return p;
        }
        line = strchr(eol, '\n');
    }
    return NULL;
}

static int contains(const char *value, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= len; i++)
        if (strncmp(value + i, needle, n) == 0)
            return 1;
    return 0;
}

static void on_response(fo_router *router, char *msg)
{
    const char *via, *call_id, *cseq;
    size_t via_len, id_len, cseq_len;
    int code = 0;

    if (sscanf(msg, "SIP/2.0 %d", &code) != 1 || code < 100 || code > 699)
        return; /* not a response */
    via = header(msg, "Via", "v", &via_len);
    call_id = header(msg, "Call-ID", "i", &id_len);
    cseq = header(msg, "CSeq", "CSeq", &cseq_len);
    if (via == NULL || call_id == NULL || cseq == NULL)
        return;
    for (int i = 0; i < ncarriers; i++) {
        struct carrier *c = &carriers[i];
        char want_cseq[32];
        int is_down = 0;

        snprintf(want_cseq, sizeof want_cseq, "%u OPTIONS", c->cseq);
        if (!contains(via, via_len, c->branch) ||
            !contains(call_id, id_len, c->call_id) ||
            !contains(cseq, cseq_len, want_cseq))
            continue;
        if (!c->pending) {
            c->late++; /* after our timeout: the router timed it out */
            return;
        }
        if (code < 200) {
            c->retransmit_ms = T2_MS; /* provisional: slow down */
            return;
        }
        c->pending = 0;
        for (int k = 0; k < ndown; k++)
            is_down |= code == down_codes[k];
        if (is_down) {
            c->down++;
            fo_probe_done(router, c->token, FO_RESULT_REJECTED);
        } else {
            c->alive++;
            fo_probe_done(router, c->token, FO_RESULT_SUCCESS);
        }
        return;
    }
}

/* ---- reporting --------------------------------------------------------------
 */

static void show_changes(fo_router *router)
{
    for (int i = 0; i < ncarriers; i++) {
        struct carrier *c = &carriers[i];
        char why[FO_REASON_TEXT_MAX];
        fo_route_state st;

        if (fo_route_get_state(router, c->route, &st) != FO_OK ||
            st == c->shown)
            continue;
        fo_route_get_reason(router, c->route, NULL, why, sizeof why);
        say("%s %s -> %s: %s\n", c->name, fo_route_state_name(c->shown),
            fo_route_state_name(st), why);
        c->shown = st;
    }
}

/* ---- setup ----------------------------------------------------------------
 */

static int parse_carrier(const char *arg, struct carrier *c)
{
    const char *eq = strchr(arg, '='), *colon = strrchr(arg, ':');
    struct addrinfo hints, *res;
    char port[8];

    if (eq == NULL || colon == NULL || colon < eq ||
        (size_t)(eq - arg) > FO_ROUTE_NAME_MAX ||
        (size_t)(colon - eq - 1) >= sizeof c->host || strlen(colon + 1) > 5)
        return -1;
    memcpy(c->name, arg, (size_t)(eq - arg));
    memcpy(c->host, eq + 1, (size_t)(colon - eq - 1));
    strcpy(port, colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(c->host, port, &hints, &res) != 0)
        return -1;
    memcpy(&c->addr, res->ai_addr, sizeof c->addr);
    freeaddrinfo(res);
    return 0;
}

/* The address the carriers will see us at: what the kernel picks to reach
 * the first one. */
static int open_socket(void)
{
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    int probe_fd = socket(AF_INET, SOCK_DGRAM, 0);

    if (probe_fd < 0 ||
        connect(probe_fd, (struct sockaddr *)&carriers[0].addr,
                sizeof carriers[0].addr) != 0 ||
        getsockname(probe_fd, (struct sockaddr *)&me, &len) != 0)
        return -1;
    close(probe_fd);
    me.sin_port = 0;
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (sock < 0 || bind(sock, (struct sockaddr *)&me, sizeof me) != 0)
        return -1;
    len = sizeof me;
    if (getsockname(sock, (struct sockaddr *)&me, &len) != 0)
        return -1;
    inet_ntop(AF_INET, &me.sin_addr, local_ip, sizeof local_ip);
    local_port = ntohs(me.sin_port);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: sip_options_probe [--interval MS] [--down-interval MS]\n"
            "       [--timeout MS] [--rise N] [--fall N] [--down CODES]\n"
            "       [--no-jitter] [--duration S] NAME=HOST:PORT ...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    fo_probe_options popts;
    fo_router *router;
    long duration_s = 0;
    struct sigaction sa;
    char *codes = NULL;

    FO_PROBE_OPTIONS_INIT(&popts);
    popts.interval_ns = 5000 * MS;
    popts.timeout_ns = 2000 * MS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--no-jitter") == 0) {
            popts.flags |= FO_PROBE_NO_JITTER;
        } else if (strncmp(a, "--", 2) == 0 && v == NULL) {
            usage();
        } else if (strcmp(a, "--interval") == 0) {
            popts.interval_ns = strtoull(argv[++i], NULL, 10) * MS;
        } else if (strcmp(a, "--down-interval") == 0) {
            popts.down_interval_ns = strtoull(argv[++i], NULL, 10) * MS;
        } else if (strcmp(a, "--timeout") == 0) {
            popts.timeout_ns = strtoull(argv[++i], NULL, 10) * MS;
        } else if (strcmp(a, "--rise") == 0) {
            popts.rise = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--fall") == 0) {
            popts.fall = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--down") == 0) {
            codes = argv[++i];
        } else if (strcmp(a, "--duration") == 0) {
            duration_s = strtol(argv[++i], NULL, 10);
        } else if (a[0] == '-' || ncarriers == MAX_CARRIERS ||
                   parse_carrier(a, &carriers[ncarriers++]) != 0) {
            fprintf(stderr, "bad argument: %s\n", a);
            usage();
        }
    }
    if (ncarriers == 0)
        usage();
    for (char *tok = strtok(codes ? codes : (char[]){"503"}, ",");
         tok != NULL && ndown < MAX_DOWN; tok = strtok(NULL, ","))
        down_codes[ndown++] = atoi(tok);
    timeout_ns = popts.timeout_ns;
    if (open_socket() != 0) {
        perror("socket");
        return 1;
    }
    rnd_state ^= now_ns() ^ ((uint64_t)getpid() << 32);

    /* The router, with every carrier as a route, each probed. Carriers
     * share priority 1: this program watches, it does not route calls. */
    if (fo_router_new(&router, NULL) != FO_OK)
        return 1;
    for (int i = 0; i < ncarriers; i++) {
        struct carrier *c = &carriers[i];
        int rc = fo_route_add(router, c->name, 1, 1, 0, &c->route);

        if (rc == FO_OK)
            rc = fo_set_probe(router, c->route, probe, c, &popts);
        if (rc != FO_OK) {
            fprintf(stderr, "%s: %s\n", c->name, fo_strerror(rc));
            return 1;
        }
        c->shown = FO_STATE_UP;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    start_ns = now_ns();
    say("probing %d carriers from %s:%u\n", ncarriers, local_ip, local_port);

    while (!stopping) {
        struct pollfd pfd = {.fd = sock, .events = POLLIN};
        int wait_router, wait_sip, wait;
        char buf[4096];
        ssize_t n;

        if (duration_s > 0 &&
            now_ns() - start_ns >= (uint64_t)duration_s * FO_SECOND_NS)
            break;
        /* 1. Due work: start probes, time them out, end hold-downs. */
        fo_router_tick(router);
        show_changes(router);
        /* 2. Sleep until the router, a retransmission or a packet. */
        fo_router_next_timeout_ms(router, &wait_router);
        wait_sip = service_transactions();
        wait = wait_router;
        if (wait_sip >= 0 && (wait < 0 || wait_sip < wait))
            wait = wait_sip;
        if (duration_s > 0 && (wait < 0 || wait > 1000))
            wait = 1000;
        if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
            break;
        /* 3. Answers complete their probes. */
        while ((n = recv(sock, buf, sizeof buf - 1, 0)) > 0) {
            buf[n] = '\0';
            on_response(router, buf);
        }
        show_changes(router);
    }

    say("stopped\n");
    for (int i = 0; i < ncarriers; i++) {
        struct carrier *c = &carriers[i];

        printf("%-16s %-10s sent %u, alive %u, down %u, unanswered %u, "
               "late %u\n",
               c->name, fo_route_state_name(c->shown), c->sent, c->alive,
               c->down, c->unanswered, c->late);
    }
    fo_router_free(router);
    close(sock);
    return 0;
}
