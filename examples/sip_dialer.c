/*
 * sip_dialer: a small SIP dialer that places calls to one number through
 * SIP carriers over UDP, lets libfailover choose the carrier for every
 * attempt, and prints each change of a carrier's state as it happens.
 *
 *     sip_dialer --to NUMBER --carrier NAME=HOST:PORT[,priority=N][,weight=N]
 *                --carrier ... [options]
 *
 *     --carrier SPEC          a carrier, 2 to 8 of them; priority defaults to
 *                             its position (the first one is the primary),
 *                             weight to 1
 *     --to NUMBER             the number to call
 *     --from USER             our user name in From and Contact (dialer)
 *     --rate N                new calls per second (1)
 *     --duration S            place calls for S seconds (30)
 *     --call-length S         hang up an answered call after S seconds (5)
 *     --dial-timeout S        cancel an attempt with no final response by
 *                             then (30)
 *     --options-interval S    OPTIONS keepalive to each carrier; 0: none (10)
 *     --local-port N          our UDP port; 0: any (0)
 *     --max-attempts N        carriers one call may try (3)
 *     --consecutive-faults N  route faults in a row that eject a carrier (3)
 *     --hold-down S           first time a carrier stays out (15)
 *     --t1 MS                 RFC 3261 round-trip estimate T1 (500)
 *     --drain S               after --duration, time left for the calls in
 *                             progress (max-attempts x dial-timeout + 1)
 *     --report-json FILE      a machine-readable record, one JSON object a
 *                             line: the start, every router event, every
 *                             call, every late answer, the summary
 *
 * Everything runs in one thread around poll(), as in sip_options_probe.c:
 * the router says when it next has work (fo_router_next_timeout_ms()) and
 * does it in fo_router_tick(), which calls probe() for every carrier whose
 * OPTIONS keepalive is due; SIP timers and new calls are due at times of
 * our own; packets complete transactions.
 *
 * A call is one number dialled once. Its attempts share one fo_attempt,
 * so each pick moves down the list of carriers and never repeats one.
 * Every final response goes through the library's SIP mapping and is
 * reported for the carrier that gave it; a route fault (timeout, 5xx, 403,
 * ...) moves the call to the next carrier, anything else ends the call: a
 * busy callee is not rung again through another carrier.
 *
 * A SIP leg is one INVITE to one carrier, with its transactions (INVITE,
 * CANCEL, BYE) and, once answered, its dialog. Legs outlive the attempts
 * they belong to: after a dial timeout the call moves on while the leg
 * waits for the CANCEL to be answered, and an answer that arrives then
 * (the late-answer race) is acknowledged and hung up at once, never kept
 * as a second live call.
 *
 * SIP as RFC 3261 has it for a UAC over UDP: Timer A/B retransmissions of
 * the INVITE, Timer E/F for CANCEL, BYE and OPTIONS, ACK in the INVITE
 * transaction for a non-2xx final and as a request of its own for every
 * 2xx (also for retransmitted ones), CANCEL only after a provisional
 * response, Retry-After honoured. The carrier is the next hop for every
 * request of a call, as an outbound proxy (RFC 3261 8.1.2): in-dialog
 * requests go to it, addressed to the remote target, with the route set
 * from Record-Route (loose routing). Media is not sent; the SDP offer
 * points at a socket whose packets are read and dropped.
 *
 * IPv4 only, to stay short.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define MS           FO_MILLISECOND_NS
#define SEC          FO_SECOND_NS
#define MIN_CARRIERS 2
#define MAX_CARRIERS 8
#define T2_MS        4000u         /* RFC 3261: cap of Timer E */
#define TIMER_D_NS   (32ull * SEC) /* absorb retransmitted finals */
#define MAX_SLOTS    65536u        /* calls and legs at most */
#define MAX_BURST    64            /* calls placed in one turn */
#define RECV_BURST   256           /* packets read in one turn */
#define BUF_MAX      4096          /* a request we build */
#define PKT_MAX      8192          /* a packet we read */
#define MAX_VIAS     16
#define MAX_ROUTES   16

/* ---- configuration ------------------------------------------------------ */

static struct {
    const char *to, *from_user, *report_path;
    double rate;
    uint64_t duration_ns, call_length_ns, dial_timeout_ns;
    uint64_t options_interval_ns, hold_down_ns, drain_ns;
    unsigned local_port, max_attempts, consecutive_faults, t1_ms;
} cfg = {
    .from_user = "dialer",
    .rate = 1.0,
    .duration_ns = 30 * SEC,
    .call_length_ns = 5 * SEC,
    .dial_timeout_ns = 30 * SEC,
    .options_interval_ns = 10 * SEC,
    .t1_ms = 500,
};

/* ---- state -------------------------------------------------------------- */

/* A non-INVITE client transaction's timers (RFC 3261 17.1.2). */
struct ntxn {
    int active, proceeding;
    unsigned interval_ms;
    uint64_t next_ns; /* Timer E: next retransmission */
    uint64_t end_ns;  /* Timer F: give up */
};

struct carrier {
    char name[FO_ROUTE_NAME_MAX + 1];
    char host[64];
    unsigned port;
    struct sockaddr_in addr;
    uint32_t priority, weight;
    fo_route_id route;
    /* the OPTIONS keepalive in flight */
    struct ntxn probe;
    fo_probe_token token;
    char probe_branch[40], probe_call_id[48], probe_tag[17];
    unsigned probe_cseq;
    /* what we saw */
    unsigned attempts, answered, faults, callee, late;
    unsigned probes_sent, probes_ok, probes_down, probes_lost;
};

/* Where an INVITE transaction is (RFC 3261 17.1.1, RFC 6026). */
enum inv_state {
    INV_NONE,       /* no INVITE: a dialog adopted from a stray 2xx */
    INV_CALLING,    /* sent, no response: Timer A retransmits */
    INV_PROCEEDING, /* a provisional response came */
    INV_COMPLETED,  /* a non-2xx final came and was ACKed: Timer D */
    INV_ACCEPTED,   /* a 2xx came: its retransmissions are ACKed again */
    INV_TERMINATED
};

/* Where the dialog an answer created is. */
enum dlg_state { DLG_NONE, DLG_CONFIRMED, DLG_BYE, DLG_ENDED };

struct leg {
    int used;
    int call;        /* index of the call waiting for this leg, or -1 */
    unsigned try_no; /* its index in that call's attempts */
    unsigned call_no;
    int carrier;
    fo_attempt pick;    /* the call's attempt right after this leg's pick */
    fo_result reported; /* what was reported for this leg; 0 = nothing */
    int late;           /* an answer nobody wants: hang up at once */
    char call_id[48], from_tag[24], to_tag[64];
    char inv_branch[40], ack_branch[40], bye_branch[40];
    char target[160]; /* remote target: the Contact of the 2xx */
    char route[512];  /* Route header line from Record-Route, or "" */
    uint64_t sess_id;
    /* the INVITE client transaction */
    enum inv_state inv;
    int rang, status, cancel_wanted, cancel_sent;
    unsigned inv_interval_ms;
    uint64_t sent_ns, inv_next_ns, inv_end_ns, dial_end_ns, progress_ns;
    struct ntxn cancel;
    /* the dialog */
    enum dlg_state dlg;
    uint64_t answered_ns, bye_at_ns;
    struct ntxn bye;
};

/* One attempt of a call, for the record. */
struct try_rec {
    int carrier, status; /* status 0: no final response (dial timeout) */
    fo_result result;
    uint64_t sent_ns, end_ns;
};

struct call {
    int used;
    unsigned no;
    fo_attempt attempt;
    uint64_t placed_ns;
    int leg;
    unsigned ntries;
    struct try_rec tries[FO_ATTEMPT_MAX_ROUTES];
};

enum outcome {
    OUT_CONNECTED,
    OUT_CALLEE,
    OUT_NEUTRAL,
    OUT_FAILED,
    OUT_ABANDONED
};
static const char *const outcome_names[] = {"connected", "callee", "neutral",
                                            "failed", "abandoned"};

static struct carrier carriers[MAX_CARRIERS];
static int ncarriers;
static struct leg *legs;
static struct call *calls;
static unsigned legs_cap, legs_hw, calls_cap, calls_hw;

static fo_router *router;
static FILE *report;
static int sip_fd = -1, rtp_fd = -1;
static char local_ip[INET_ADDRSTRLEN];
static unsigned local_port, rtp_port;
static uint64_t start_ns, router_offset_ns;
static uint64_t rnd_state = 88172645463325252ull;
static volatile sig_atomic_t stopping;
static int draining;
static unsigned call_seq;

static struct {
    unsigned placed, not_placed, connected, callee, neutral, failed;
    unsigned abandoned, retried, late, late_hung_up, byes_sent, byes_ok;
    unsigned byes_lost, remote_hangups, bad_packets, errors;
} stats;

static void on_signal(int sig)
{
    (void)sig;
    stopping++;
}

static uint64_t now_ns(void)
{
    return fo_clock_monotonic_ns();
}

static uint64_t dialer_clock_cb(void *userdata)
{
    (void)userdata;
    return now_ns();
}

static const fo_clock dialer_clock = FO_CLOCK_INIT(dialer_clock_cb, NULL);

/* Seconds since the start, for output. */
static double rel(uint64_t t)
{
    return t >= start_ns ? (double)(t - start_ns) / 1e9
                         : -((double)(start_ns - t) / 1e9);
}

static void next_at(uint64_t *next, uint64_t t)
{
    if (t != 0 && t < *next)
        *next = t;
}

static void random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        out[i] = hex[rnd_state & 15];
    }
    out[n] = '\0';
}

/* Prints a line stamped with the seconds since the start. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    va_list ap;

    printf("%9.3f  ", rel(now_ns()));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* A libfailover call failed where it should not: say so, and remember it
 * for the exit code. */
static void lib_error(const char *what, int rc)
{
    fprintf(stderr, "sip_dialer: %s: %s\n", what, fo_strerror(rc));
    stats.errors++;
}

/* ---- the JSON record ------------------------------------------------------
 *
 * One object a line, so a test or a log shipper can read it as it is
 * written. Times are seconds since the start on CLOCK_MONOTONIC; the start
 * line gives that start as CLOCK_MONOTONIC seconds too.
 */

static void json_str(const char *s)
{
    fputc('"', report);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(report, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(report, "\\u%04x", *p);
        else
            fputc(*p, report);
    }
    fputc('"', report);
}

static void json_carrier(int k)
{
    if (k < 0)
        fputs("null", report);
    else
        json_str(carriers[k].name);
}

/* ---- pools ---------------------------------------------------------------
 *
 * Calls and legs live in arrays sized at start from the rate and the
 * timers (see size_pools()), so the dialer's memory is bounded. Slots are taken
 * lowest first and loops stop at the highest slot in use.
 */

static struct leg *alloc_leg(void)
{
    for (unsigned i = 0; i < legs_cap; i++) {
        if (!legs[i].used) {
            memset(&legs[i], 0, sizeof legs[i]);
            legs[i].used = 1;
            legs[i].call = -1;
            if (i + 1 > legs_hw)
                legs_hw = i + 1;
            return &legs[i];
        }
    }
    return NULL;
}

static void free_leg(struct leg *l)
{
    l->used = 0;
    while (legs_hw > 0 && !legs[legs_hw - 1].used)
        legs_hw--;
}

static struct call *alloc_call(void)
{
    for (unsigned i = 0; i < calls_cap; i++) {
        if (!calls[i].used) {
            memset(&calls[i], 0, sizeof calls[i]);
            calls[i].used = 1;
            calls[i].leg = -1;
            if (i + 1 > calls_hw)
                calls_hw = i + 1;
            return &calls[i];
        }
    }
    return NULL;
}

static void free_call(struct call *c)
{
    c->used = 0;
    while (calls_hw > 0 && !calls[calls_hw - 1].used)
        calls_hw--;
}

static int carrier_of(fo_route_id route)
{
    for (int k = 0; k < ncarriers; k++)
        if (carriers[k].route == route)
            return k;
    return -1;
}

/* ---- building and sending requests ---------------------------------------
 */

struct buf {
    char data[BUF_MAX];
    size_t len;
    int overflow;
};

__attribute__((format(printf, 2, 3))) static void bput(struct buf *b,
                                                       const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, sizeof b->data - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof b->data - b->len)
        b->overflow = 1;
    else
        b->len += (size_t)n;
}

/* Sends b to addr. A full socket buffer counts as sent: UDP may lose it
 * anyway, and retransmissions are there for that. */
static int send_buf(const struct buf *b, const struct sockaddr_in *addr)
{
    ssize_t n;

    if (b->overflow) {
        fprintf(stderr, "sip_dialer: message too long, not sent\n");
        stats.errors++;
        return -1;
    }
    n = sendto(sip_fd, b->data, b->len, 0, (const struct sockaddr *)addr,
               sizeof *addr);
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
        return 0;
    return -1;
}

/* The headers every request of a leg's dialog shares. The To URI is the
 * Request-URI of the INVITE (the dialog's remote URI). */
static void put_dialog_headers(struct buf *b, const struct leg *l,
                               const char *method, unsigned cseq, int to_tag)
{
    const struct carrier *c = &carriers[l->carrier];

    bput(b, "Max-Forwards: 70\r\n");
    bput(b, "From: <sip:%s@%s:%u>;tag=%s\r\n", cfg.from_user, local_ip,
         local_port, l->from_tag);
    if (to_tag && l->to_tag[0] != '\0')
        bput(b, "To: <sip:%s@%s:%u>;tag=%s\r\n", cfg.to, c->host, c->port,
             l->to_tag);
    else
        bput(b, "To: <sip:%s@%s:%u>\r\n", cfg.to, c->host, c->port);
    bput(b, "Call-ID: %s\r\n", l->call_id);
    bput(b, "CSeq: %u %s\r\n", cseq, method);
}

static int send_invite(const struct leg *l)
{
    const struct carrier *c = &carriers[l->carrier];
    char sdp[512];
    struct buf b;
    int n;

    /* A minimal offer (RFC 4566, RFC 3264): G.711 and DTMF events. */
    n = snprintf(sdp, sizeof sdp,
                 "v=0\r\n"
                 "o=- %llu %llu IN IP4 %s\r\n"
                 "s=-\r\n"
                 "c=IN IP4 %s\r\n"
                 "t=0 0\r\n"
                 "m=audio %u RTP/AVP 0 8 101\r\n"
                 "a=rtpmap:0 PCMU/8000\r\n"
                 "a=rtpmap:8 PCMA/8000\r\n"
                 "a=rtpmap:101 telephone-event/8000\r\n"
                 "a=fmtp:101 0-16\r\n"
                 "a=ptime:20\r\n"
                 "a=sendrecv\r\n",
                 (unsigned long long)l->sess_id, (unsigned long long)l->sess_id,
                 local_ip, local_ip, rtp_port);
    if (n < 0 || (size_t)n >= sizeof sdp)
        return -1;
    b.len = 0;
    b.overflow = 0;
    bput(&b, "INVITE sip:%s@%s:%u SIP/2.0\r\n", cfg.to, c->host, c->port);
    bput(&b, "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n", local_ip, local_port,
         l->inv_branch);
    put_dialog_headers(&b, l, "INVITE", 1, 0);
    bput(&b, "Contact: <sip:%s@%s:%u>\r\n", cfg.from_user, local_ip,
         local_port);
    bput(&b, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n");
    bput(&b, "User-Agent: libfailover-sip-dialer/%s\r\n", fo_version_string());
    bput(&b, "Content-Type: application/sdp\r\n");
    bput(&b, "Content-Length: %d\r\n\r\n%s", n, sdp);
    return send_buf(&b, &c->addr);
}

/* CANCEL (RFC 3261 9.1): the INVITE's Request-URI, Call-ID, From, To and
 * CSeq number, and its Via, branch included: it matches the INVITE's
 * server transaction at the carrier. */
static int send_cancel(const struct leg *l)
{
    const struct carrier *c = &carriers[l->carrier];
    struct buf b;

    b.len = 0;
    b.overflow = 0;
    bput(&b, "CANCEL sip:%s@%s:%u SIP/2.0\r\n", cfg.to, c->host, c->port);
    bput(&b, "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n", local_ip, local_port,
         l->inv_branch);
    put_dialog_headers(&b, l, "CANCEL", 1, 0);
    bput(&b, "Content-Length: 0\r\n\r\n");
    return send_buf(&b, &c->addr);
}

/* ACK for a non-2xx final (RFC 3261 17.1.1.3): part of the INVITE
 * transaction, so the same branch and Request-URI, and the To of the
 * response, tag included. */
static int send_ack_error(const struct leg *l)
{
    const struct carrier *c = &carriers[l->carrier];
    struct buf b;

    b.len = 0;
    b.overflow = 0;
    bput(&b, "ACK sip:%s@%s:%u SIP/2.0\r\n", cfg.to, c->host, c->port);
    bput(&b, "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n", local_ip, local_port,
         l->inv_branch);
    put_dialog_headers(&b, l, "ACK", 1, 1);
    bput(&b, "Content-Length: 0\r\n\r\n");
    return send_buf(&b, &c->addr);
}

/* ACK for a 2xx (RFC 3261 13.2.2.4): a request of its own in the dialog,
 * with a branch of its own, to the remote target, along the route set. */
static int send_ack_2xx(const struct leg *l)
{
    struct buf b;

    b.len = 0;
    b.overflow = 0;
    bput(&b, "ACK %s SIP/2.0\r\n", l->target);
    bput(&b, "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n", local_ip, local_port,
         l->ack_branch);
    bput(&b, "%s", l->route);
    put_dialog_headers(&b, l, "ACK", 1, 1);
    bput(&b, "Content-Length: 0\r\n\r\n");
    return send_buf(&b, &carriers[l->carrier].addr);
}

static int send_bye(const struct leg *l)
{
    struct buf b;

    b.len = 0;
    b.overflow = 0;
    bput(&b, "BYE %s SIP/2.0\r\n", l->target);
    bput(&b, "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n", local_ip, local_port,
         l->bye_branch);
    bput(&b, "%s", l->route);
    put_dialog_headers(&b, l, "BYE", 2, 1);
    bput(&b, "User-Agent: libfailover-sip-dialer/%s\r\n", fo_version_string());
    bput(&b, "Content-Length: 0\r\n\r\n");
    return send_buf(&b, &carriers[l->carrier].addr);
}

static int send_options(const struct carrier *c)
{
    struct buf b;

    b.len = 0;
    b.overflow = 0;
    bput(&b, "OPTIONS sip:%s:%u SIP/2.0\r\n", c->host, c->port);
    bput(&b, "Via: SIP/2.0/UDP %s:%u;branch=%s;rport\r\n", local_ip, local_port,
         c->probe_branch);
    bput(&b, "Max-Forwards: 70\r\n");
    bput(&b, "From: <sip:%s@%s:%u>;tag=%s\r\n", cfg.from_user, local_ip,
         local_port, c->probe_tag);
    bput(&b, "To: <sip:%s:%u>\r\n", c->host, c->port);
    bput(&b, "Call-ID: %s\r\n", c->probe_call_id);
    bput(&b, "CSeq: %u OPTIONS\r\n", c->probe_cseq);
    bput(&b, "Contact: <sip:%s@%s:%u>\r\n", cfg.from_user, local_ip,
         local_port);
    bput(&b, "Accept: application/sdp\r\n");
    bput(&b, "User-Agent: libfailover-sip-dialer/%s\r\n", fo_version_string());
    bput(&b, "Content-Length: 0\r\n\r\n");
    return send_buf(&b, &c->addr);
}

/* Our branches say what they belong to, "z9hG4bK" + kind + slot + "." +
 * random: 'i' a leg's INVITE (and its CANCEL and ACK), 'a' a 2xx's ACK,
 * 'b' a BYE, 'p' a carrier's OPTIONS. A response finds its transaction
 * without a search; the random part tells a reused slot's from old ones. */
static void make_branch(char *out, size_t size, char kind, unsigned slot)
{
    char rnd[13];

    random_hex(rnd, 12);
    (void)snprintf(out, size, "z9hG4bK%c%x.%s", kind, slot, rnd);
}

/* ---- timers of non-INVITE transactions ----------------------------------- */

static void ntxn_start(struct ntxn *t, uint64_t now, uint64_t timeout_ns)
{
    t->active = 1;
    t->proceeding = 0;
    t->interval_ms = cfg.t1_ms;
    t->next_ns = now + (uint64_t)cfg.t1_ms * MS;
    t->end_ns = now + timeout_ns;
}

/* Timer E: true when the request is due again. It doubles from T1 up to
 * T2, and is T2 once a provisional response came. */
static int ntxn_retransmit_due(struct ntxn *t, uint64_t now)
{
    if (!t->active || now < t->next_ns)
        return 0;
    if (t->proceeding || t->interval_ms * 2 > T2_MS)
        t->interval_ms = T2_MS;
    else
        t->interval_ms *= 2;
    t->next_ns = now + (uint64_t)t->interval_ms * MS;
    return 1;
}

static uint64_t timer_b_ns(void)
{
    return 64ull * cfg.t1_ms * MS; /* also Timer F */
}

/* How long an OPTIONS keepalive may take: Timer F, shortened to 2 s or
 * the interval. A keepalive unanswered for that long has failed, however
 * long RFC 3261 would keep trying. */
static uint64_t probe_timeout_ns(void)
{
    uint64_t t =
        cfg.options_interval_ns < 2 * SEC ? cfg.options_interval_ns : 2 * SEC;

    return t < timer_b_ns() ? t : timer_b_ns();
}

/* ---- parsing ------------------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

struct sipmsg {
    int status;         /* a response's code; 0 for a request */
    struct span method; /* a request's method */
    struct span via[MAX_VIAS];
    int nvia;
    struct span from, to, call_id, cseq_method, contact, retry_after;
    struct span rr[MAX_ROUTES]; /* Record-Route values, in order */
    int nrr, rr_lost;           /* rr_lost: more than MAX_ROUTES */
    unsigned long cseq;
};

static int span_is(struct span s, const char *lit)
{
    return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

static struct span trim(const char *p, const char *end)
{
    struct span s;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    s.p = p;
    s.n = (size_t)(end - p);
    return s;
}

/* Copies s into out as a string; 0 if it fits. */
static int span_copy(char *out, size_t size, struct span s)
{
    if (s.n >= size) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, s.p, s.n);
    out[s.n] = '\0';
    return 0;
}

/* The value of parameter `name` in a header value: after its URI's '>'
 * when it has one, so URI parameters are not taken for the header's. */
static struct span param(struct span v, const char *name)
{
    const char *p = v.p, *end = v.p + v.n, *gt;
    size_t len = strlen(name);
    struct span none = {NULL, 0};

    gt = memchr(p, '>', v.n);
    if (gt != NULL)
        p = gt + 1;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *q;

        if (semi == NULL)
            return none;
        q = semi + 1;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if ((size_t)(end - q) > len && strncasecmp(q, name, len) == 0 &&
            q[len] == '=') {
            const char *s = q + len + 1, *e = s;

            while (e < end && *e != ';' && *e != ',' && *e != ' ' && *e != '\t')
                e++;
            return trim(s, e);
        }
        p = q;
    }
    return none;
}

/* The first value of a header that may hold a comma-separated list (Via,
 * Contact, Record-Route): up to the first comma outside <> and quotes. */
static struct span first_value(struct span v, struct span *rest)
{
    int angle = 0, quote = 0;

    for (size_t i = 0; i < v.n; i++) {
        char ch = v.p[i];

        if (ch == '"' && (i == 0 || v.p[i - 1] != '\\'))
            quote = !quote;
        else if (!quote && ch == '<')
            angle = 1;
        else if (!quote && ch == '>')
            angle = 0;
        else if (!quote && !angle && ch == ',') {
            if (rest != NULL)
                *rest = trim(v.p + i + 1, v.p + v.n);
            return trim(v.p, v.p + i);
        }
    }
    if (rest != NULL) {
        rest->p = v.p + v.n;
        rest->n = 0;
    }
    return v;
}

/* The URI in a name-addr (<...>) or addr-spec. */
static struct span uri_of(struct span v)
{
    const char *lt = memchr(v.p, '<', v.n), *gt;
    const char *end = v.p + v.n, *e;

    if (lt != NULL) {
        gt = memchr(lt, '>', (size_t)(end - lt));
        if (gt != NULL)
            return trim(lt + 1, gt);
    }
    for (e = v.p; e < end && *e != ';' && *e != ' '; e++)
        ;
    return trim(v.p, e);
}

static int header_is(struct span name, const char *full, const char *compact)
{
    return span_is(name, full) || (compact != NULL && span_is(name, compact));
}

/* Splits a message into what we use. Header lines folded onto the next
 * line (obsolete since RFC 3261) are skipped. */
static int parse_msg(const char *buf, size_t len, struct sipmsg *m)
{
    const char *p = buf, *end = buf + len;
    int first = 1;

    memset(m, 0, sizeof *m);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end, *colon;
        struct span name, value;

        if (eol > p && eol[-1] == '\r')
            eol--;
        if (eol == p) /* the empty line: the body follows */
            return first ? -1 : 0;
        if (first) {
            first = 0;
            if ((size_t)(eol - p) >= 11 && strncmp(p, "SIP/2.0 ", 8) == 0) {
                m->status = atoi(p + 8);
                if (m->status < 100 || m->status > 699)
                    return -1;
            } else {
                const char *sp = memchr(p, ' ', (size_t)(eol - p));

                if (sp == NULL || (size_t)(eol - p) < 8 ||
                    strncmp(eol - 8, " SIP/2.0", 8) != 0)
                    return -1;
                m->method = trim(p, sp);
            }
        } else if (*p != ' ' && *p != '\t') {
            colon = memchr(p, ':', (size_t)(eol - p));
            if (colon == NULL)
                return -1;
            name = trim(p, colon);
            value = trim(colon + 1, eol);
            if (header_is(name, "Via", "v")) {
                if (m->nvia < MAX_VIAS)
                    m->via[m->nvia++] = value;
            } else if (header_is(name, "From", "f")) {
                m->from = value;
            } else if (header_is(name, "To", "t")) {
                m->to = value;
            } else if (header_is(name, "Call-ID", "i")) {
                m->call_id = value;
            } else if (header_is(name, "Contact", "m")) {
                if (m->contact.p == NULL)
                    m->contact = first_value(value, NULL);
            } else if (header_is(name, "Retry-After", NULL)) {
                m->retry_after = value;
            } else if (header_is(name, "Record-Route", NULL)) {
                struct span rest = value;

                for (int i = 0;
                     i < MAX_ROUTES && rest.n > 0 && m->nrr < MAX_ROUTES; i++)
                    m->rr[m->nrr++] = first_value(rest, &rest);
                m->rr_lost |= rest.n > 0;
            } else if (header_is(name, "CSeq", NULL)) {
                char *num_end;
                const char *mp;

                m->cseq = strtoul(value.p, &num_end, 10);
                mp = num_end;
                if (mp == value.p || mp > value.p + value.n)
                    return -1;
                m->cseq_method = trim(mp, value.p + value.n);
            }
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return first ? -1 : 0;
}

/* The dialog's route set from a 2xx (RFC 3261 12.1.2): its Record-Route
 * entries in reverse order, as one Route header line. */
static void take_route_set(struct leg *l, const struct sipmsg *m)
{
    size_t len = 0;

    l->route[0] = '\0';
    if (m->rr_lost) {
        fprintf(stderr, "sip_dialer: route set too long, not used\n");
        stats.errors++;
        return;
    }
    for (int i = m->nrr - 1; i >= 0; i--) {
        int n = snprintf(l->route + len, sizeof l->route - len, "%s%.*s",
                         i == m->nrr - 1 ? "Route: " : ", ", (int)m->rr[i].n,
                         m->rr[i].p);

        if (n < 0 || (size_t)n >= sizeof l->route - len) {
            fprintf(stderr, "sip_dialer: route set too long, not used\n");
            stats.errors++;
            l->route[0] = '\0';
            return;
        }
        len += (size_t)n;
    }
    if (len > 0 && len + 3 > sizeof l->route) {
        fprintf(stderr, "sip_dialer: route set too long, not used\n");
        stats.errors++;
        l->route[0] = '\0';
        return;
    }
    if (len > 0)
        memcpy(l->route + len, "\r\n", 3);
}

/* The remote target from a 2xx's Contact; the Request-URI of the INVITE
 * if the answer has none (a broken peer, but BYE must go somewhere). */
static void take_target(struct leg *l, const struct sipmsg *m)
{
    const struct carrier *c = &carriers[l->carrier];

    if (m->contact.p == NULL ||
        span_copy(l->target, sizeof l->target, uri_of(m->contact)) != 0 ||
        l->target[0] == '\0')
        snprintf(l->target, sizeof l->target, "sip:%s@%s:%u", cfg.to, c->host,
                 c->port);
}

/* ---- results and reports ------------------------------------------------- */

static fo_result sip_result(int status, unsigned flags)
{
    fo_result result = FO_RESULT_REJECTED;
    int rc = fo_router_result_from_sip(router, status, flags, &result);

    if (rc != FO_OK)
        lib_error("fo_router_result_from_sip", rc);
    return result;
}

/* The class this router gives a result (fo_router_set_result_class() may
 * have changed the default). */
static fo_result_class class_of(fo_result result)
{
    fo_result_class cls = FO_CLASS_ROUTE_FAULT;
    int rc = fo_router_get_result_class(router, result, &cls);

    if (rc != FO_OK)
        lib_error("fo_router_get_result_class", rc);
    return cls;
}

/* Reports a result for leg l's carrier with the given attempt context. */
static void report_leg(struct leg *l, fo_result result, uint64_t latency_ns,
                       uint64_t retry_after_ns, fo_attempt *attempt)
{
    fo_report rep = FO_REPORT_INIT(result);
    int rc;

    rep.latency_ns = latency_ns;
    rep.retry_after_ns = retry_after_ns;
    rc = fo_report_result_ex(router, carriers[l->carrier].route, &rep, attempt);
    if (rc != FO_OK)
        lib_error("fo_report_result_ex", rc);
    l->reported = result;
}

/* Post-dial delay: from the INVITE to its first ring, answer or final. */
static uint64_t latency_of(const struct leg *l)
{
    return l->progress_ns > l->sent_ns ? l->progress_ns - l->sent_ns : 0;
}

static uint64_t retry_after_of(const struct sipmsg *m)
{
    unsigned long s;

    if (m->retry_after.p == NULL || m->retry_after.n == 0 ||
        m->retry_after.p[0] < '0' || m->retry_after.p[0] > '9')
        return 0;
    s = strtoul(m->retry_after.p, NULL, 10);
    if (s > 86400)
        s = 86400; /* the router caps it further (retry_after_max_ns) */
    return (uint64_t)s * SEC;
}

/* ---- calls ----------------------------------------------------------------
 */

static void json_call(const struct call *c, enum outcome out, fo_result result,
                      int carrier, uint64_t now)
{
    if (report == NULL)
        return;
    fprintf(report, "{\"type\":\"call\",\"call\":%u,\"placed\":%.6f,", c->no,
            rel(c->placed_ns));
    fprintf(report, "\"ended\":%.6f,\"outcome\":\"%s\",\"result\":", rel(now),
            outcome_names[out]);
    if (result != 0)
        json_str(fo_result_name(result));
    else
        fputs("null", report);
    fputs(",\"carrier\":", report);
    json_carrier(carrier);
    fputs(",\"attempts\":[", report);
    for (unsigned i = 0; i < c->ntries; i++) {
        const struct try_rec *t = &c->tries[i];

        fprintf(report, "%s{\"carrier\":", i > 0 ? "," : "");
        json_carrier(t->carrier);
        fprintf(report, ",\"sent\":%.6f,\"ended\":", rel(t->sent_ns));
        if (t->end_ns != 0)
            fprintf(report, "%.6f", rel(t->end_ns));
        else
            fputs("null", report);
        fprintf(report, ",\"status\":%d,\"result\":", t->status);
        if (t->result != 0)
            json_str(fo_result_name(t->result));
        else
            fputs("null", report);
        fputc('}', report);
    }
    fputs("]}\n", report);
}

/* The call is over: count it, record it, free its slot. */
static void conclude(struct call *c, enum outcome out, fo_result result,
                     int carrier, const char *why, uint64_t now)
{
    switch (out) {
    case OUT_CONNECTED:
        stats.connected++;
        if (c->ntries > 1)
            say("call %u: carried by %s after %u failed attempt%s\n", c->no,
                carriers[carrier].name, c->ntries - 1,
                c->ntries > 2 ? "s" : "");
        break;
    case OUT_CALLEE:
        stats.callee++;
        break;
    case OUT_NEUTRAL:
        stats.neutral++;
        break;
    case OUT_FAILED:
        stats.failed++;
        say("call %u FAILED after %u attempt%s: %s\n", c->no, c->ntries,
            c->ntries == 1 ? "" : "s", why);
        break;
    case OUT_ABANDONED:
        stats.abandoned++;
        break;
    }
    if (c->ntries > 1)
        stats.retried++;
    json_call(c, out, result, carrier, now);
    free_call(c);
}

static void start_cancel(struct leg *l, uint64_t now);

/* Starts the next attempt of call c on carrier k. 0: sent; -1: could not
 * send (reported as UNAVAILABLE); -2: no free slot. */
static int start_leg(struct call *c, int k, uint64_t now)
{
    struct leg *l = alloc_leg();
    struct try_rec *t;
    unsigned slot;

    if (l == NULL)
        return -2;
    slot = (unsigned)(l - legs);
    l->call = (int)(c - calls);
    l->call_no = c->no;
    l->carrier = k;
    l->try_no = c->ntries;
    /* The attempt as it is now, picked but not reported: kept to report a
     * late answer for this leg once the call's own context has moved on. */
    l->pick = c->attempt;
    random_hex(l->call_id, 24);
    snprintf(l->call_id + 24, sizeof l->call_id - 24, "@%s", local_ip);
    random_hex(l->from_tag, 16);
    make_branch(l->inv_branch, sizeof l->inv_branch, 'i', slot);
    make_branch(l->ack_branch, sizeof l->ack_branch, 'a', slot);
    make_branch(l->bye_branch, sizeof l->bye_branch, 'b', slot);
    l->sess_id = rnd_state % 1000000000u;
    l->inv = INV_CALLING;
    l->sent_ns = now;
    l->inv_interval_ms = cfg.t1_ms;
    l->inv_next_ns = now + (uint64_t)cfg.t1_ms * MS; /* Timer A */
    l->inv_end_ns = now + timer_b_ns();              /* Timer B */
    l->dial_end_ns = now + cfg.dial_timeout_ns;
    t = &c->tries[c->ntries++];
    t->carrier = k;
    t->sent_ns = now;
    c->leg = (int)slot;
    carriers[k].attempts++;
    if (send_invite(l) == 0)
        return 0;
    /* Not even sent (no route to the host, ...): our own stack's 503. */
    t->status = 503;
    t->result = sip_result(503, FO_SIP_LOCAL);
    t->end_ns = now;
    report_leg(l, t->result, 0, 0, &c->attempt);
    if (class_of(t->result) == FO_CLASS_ROUTE_FAULT)
        carriers[k].faults++;
    c->leg = -1;
    free_leg(l);
    return -1;
}

/* Picks a carrier for the call's next attempt and starts it; when no
 * carrier is left, the call has failed. */
static void next_attempt(struct call *c, uint64_t now)
{
    /* Each turn takes a pick, and picks stop at max_attempts (FO_ELIMIT). */
    for (unsigned turn = 0; turn < FO_ATTEMPT_MAX_ROUTES; turn++) {
        const struct try_rec *prev =
            c->ntries > 0 ? &c->tries[c->ntries - 1] : NULL;
        fo_result last = prev != NULL ? prev->result : (fo_result)0;
        fo_route_id route;
        char why[96];
        int rc, k;

        if (c->ntries >= FO_ATTEMPT_MAX_ROUTES)
            break;
        rc = fo_pick_route(router, &c->attempt, &route);
        if (rc != FO_OK) {
            snprintf(why, sizeof why, "%s (last: %s)", fo_strerror(rc),
                     last != 0 ? fo_result_name(last) : "none");
            if (rc != FO_ENOROUTE && rc != FO_ELIMIT)
                lib_error("fo_pick_route", rc);
            conclude(c, OUT_FAILED, last, -1, why, now);
            return;
        }
        k = carrier_of(route);
        if (k < 0) {
            lib_error("fo_pick_route", FO_ENOENT);
            conclude(c, OUT_FAILED, last, -1, "unknown route", now);
            return;
        }
        if (prev != NULL)
            say("call %u: %s %s, trying %s\n", c->no,
                carriers[prev->carrier].name, fo_result_name(last),
                carriers[k].name);
        rc = start_leg(c, k, now);
        if (rc == 0)
            return;
        if (rc == -2) {
            conclude(c, OUT_FAILED, last, -1, "no free slot for the leg", now);
            return;
        }
    }
    conclude(c, OUT_FAILED, c->tries[c->ntries - 1].result, -1,
             "no attempt could be sent", now);
}

/* The attempt call c was waiting for ended with result: report it with
 * the call's context, then carry on with the call as its class says. */
static void attempt_ended(struct leg *l, int status, fo_result result,
                          uint64_t latency_ns, uint64_t retry_after_ns,
                          uint64_t now)
{
    struct call *c = &calls[l->call];
    struct try_rec *t = &c->tries[l->try_no];
    fo_result_class cls = class_of(result);

    report_leg(l, result, latency_ns, retry_after_ns, &c->attempt);
    t->status = status;
    t->result = result;
    t->end_ns = now;
    l->call = -1; /* the call no longer waits for this leg */
    c->leg = -1;
    switch (cls) {
    case FO_CLASS_SUCCESS:
        carriers[l->carrier].answered++;
        conclude(c, OUT_CONNECTED, result, l->carrier, NULL, now);
        break;
    case FO_CLASS_ROUTE_FAULT:
        carriers[l->carrier].faults++;
        next_attempt(c, now);
        break;
    case FO_CLASS_CALLEE:
        /* Busy, no answer, declined: the carrier reached the callee. Not
         * rung again through another carrier. */
        carriers[l->carrier].callee++;
        conclude(c, OUT_CALLEE, result, l->carrier, NULL, now);
        break;
    default:
        conclude(c, OUT_NEUTRAL, result, l->carrier, NULL, now);
        break;
    }
}

static void place_call(uint64_t now)
{
    struct call *c = alloc_call();
    int rc;

    if (c == NULL) {
        stats.not_placed++;
        if (stats.not_placed == 1)
            say("no free slot for a new call: calls are being skipped\n");
        return;
    }
    stats.placed++;
    c->no = ++call_seq;
    c->placed_ns = now;
    rc = fo_attempt_init(&c->attempt);
    if (rc != FO_OK) {
        lib_error("fo_attempt_init", rc);
        conclude(c, OUT_FAILED, 0, -1, "fo_attempt_init", now);
        return;
    }
    next_attempt(c, now);
}

/* ---- legs ------------------------------------------------------------------
 */

static void start_cancel(struct leg *l, uint64_t now)
{
    if (l->cancel_sent)
        return;
    l->cancel_sent = 1;
    ntxn_start(&l->cancel, now, timer_b_ns());
    (void)send_cancel(l);
    /* RFC 3261 9.1: no final response 64*T1 after the CANCEL, and the
     * INVITE transaction is over. */
    l->inv_end_ns = now + timer_b_ns();
}

/* The dial timeout of the attempt a call waits for: the attempt failed
 * (TIMEOUT, or NOANSWER if it rang: our own 408, as the mapping has it),
 * the call moves on, and the leg is cancelled; the INVITE may only be
 * cancelled once a provisional response came (RFC 3261 9.1). */
static void dial_timeout(struct leg *l, uint64_t now)
{
    fo_result result =
        sip_result(408, FO_SIP_LOCAL | (l->rang ? FO_SIP_RANG : 0));

    l->cancel_wanted = 1;
    l->dial_end_ns = 0;
    if (l->inv == INV_PROCEEDING)
        start_cancel(l, now);
    attempt_ended(l, 0, result, l->rang ? latency_of(l) : 0, 0, now);
}

/* A new leg for a dialog that a 2xx created and nobody wants: a second
 * 2xx from a forking proxy, or one for an INVITE long forgotten. It
 * exists to be ACKed and hung up. */
static struct leg *adopt_dialog(int carrier, unsigned call_no,
                                const char *call_id, const char *from_tag,
                                const struct sipmsg *m)
{
    struct leg *l = alloc_leg();
    unsigned slot;

    if (l == NULL)
        return NULL;
    slot = (unsigned)(l - legs);
    l->carrier = carrier;
    l->call_no = call_no;
    snprintf(l->call_id, sizeof l->call_id, "%s", call_id);
    snprintf(l->from_tag, sizeof l->from_tag, "%s", from_tag);
    (void)span_copy(l->to_tag, sizeof l->to_tag, param(m->to, "tag"));
    make_branch(l->ack_branch, sizeof l->ack_branch, 'a', slot);
    make_branch(l->bye_branch, sizeof l->bye_branch, 'b', slot);
    take_target(l, m);
    take_route_set(l, m);
    l->inv = INV_NONE;
    return l;
}

/* A late answer, once it is hung up: bye_status is the answer to our BYE,
 * 0 if none came, -1 if the far end hung up first; reported is the last
 * result reported for the leg. */
static void json_late(const struct leg *l, int bye_status, uint64_t now)
{
    if (report == NULL)
        return;
    fprintf(report, "{\"type\":\"late\",\"call\":%u,\"carrier\":", l->call_no);
    json_carrier(l->carrier);
    fprintf(report,
            ",\"answered\":%.6f,\"after\":%.6f,\"ended\":%.6f,"
            "\"bye_status\":%d,\"reported\":",
            rel(l->answered_ns),
            l->sent_ns != 0 ? (double)(l->answered_ns - l->sent_ns) / 1e9 : 0.0,
            rel(now), bye_status);
    if (l->reported != 0)
        json_str(fo_result_name(l->reported));
    else
        fputs("null", report);
    fputs("}\n", report);
}

/* An answer for a leg the call no longer waits for: after its dial
 * timeout (the call has moved on), or after our CANCEL crossed the 200.
 * The callee picked up, so the dialog exists: ACK it, or the
 * carrier keeps retransmitting, and hang up at once, or it becomes a
 * second live call (the same callee rung twice, a carrier billing for a
 * call nobody is on).
 *
 * For the carrier's health: it did answer. A leg the call moved on from
 * has always had its result reported first. If that was a route fault
 * (the dial timeout's TIMEOUT), it was wrong in hindsight, and a success is
 * reported with the attempt as it stood at this leg's pick (a copy: the
 * call's own context already holds the TIMEOUT and refuses a second
 * result for the carrier). The copy lets the router judge the evidence by
 * the pick: a call placed before the carrier's last ejection is stale and
 * counted only, a trial call's answer cannot pass a newer trial. A plain
 * report (no attempt) would count as fresh evidence either way, and would
 * free a trial slot that a live trial call holds. A result that already
 * credited the carrier (no answer after ringing, CANCELLED) needs nothing
 * more, nor does a dialog nobody placed a call for (a stray 2xx). */
static void late_answer(struct leg *l, uint64_t now)
{
    struct carrier *k = &carriers[l->carrier];
    char what[64] = "not reported again";

    l->late = 1;
    l->bye_at_ns = now;
    stats.late++;
    k->late++;
    if (l->inv != INV_NONE && l->reported != 0 &&
        class_of(l->reported) == FO_CLASS_ROUTE_FAULT) {
        fo_attempt at_pick = l->pick;

        snprintf(what, sizeof what, "SUCCESS reported after its %s",
                 fo_result_name(l->reported));
        report_leg(l, FO_RESULT_SUCCESS, latency_of(l), 0, &at_pick);
    }
    if (l->inv != INV_NONE)
        say("call %u: late answer from %s %.3f s after the INVITE: ACK and "
            "BYE (%s)\n",
            l->call_no, k->name, (double)(now - l->sent_ns) / 1e9, what);
    else
        say("call %u: stray answer from %s: ACK and BYE\n", l->call_no,
            k->name);
}

static void start_bye(struct leg *l, uint64_t now)
{
    l->dlg = DLG_BYE;
    ntxn_start(&l->bye, now, timer_b_ns());
    stats.byes_sent++;
    (void)send_bye(l);
}

/* Our BYE ended: answered with status, or 0 after Timer F. */
static void bye_done(struct leg *l, int status, uint64_t now)
{
    l->bye.active = 0;
    l->dlg = DLG_ENDED;
    if (status != 0)
        stats.byes_ok++;
    else
        stats.byes_lost++;
    if (l->late) {
        if (status != 0)
            stats.late_hung_up++;
        json_late(l, status, now);
    }
}

/* A 2xx to a leg's INVITE. The first one confirms the dialog; a
 * retransmission is ACKed again (RFC 6026); one with another To tag is a
 * second dialog from a forking proxy. */
static void on_2xx(struct leg *l, const struct sipmsg *m, uint64_t now)
{
    char tag[sizeof l->to_tag];

    if (span_copy(tag, sizeof tag, param(m->to, "tag")) != 0 || tag[0] == '\0')
        return; /* a 2xx without a To tag is broken: nothing to ACK */
    if (l->dlg != DLG_NONE) {
        struct leg *f;

        if (strcmp(tag, l->to_tag) == 0) {
            (void)send_ack_2xx(l);
            return;
        }
        for (unsigned i = 0; i < legs_hw; i++) {
            f = &legs[i];
            if (f->used && f->inv == INV_NONE &&
                strcmp(f->call_id, l->call_id) == 0 &&
                strcmp(f->to_tag, tag) == 0) {
                (void)send_ack_2xx(f);
                return;
            }
        }
        f = adopt_dialog(l->carrier, l->call_no, l->call_id, l->from_tag, m);
        if (f == NULL) {
            stats.errors++;
            return;
        }
        f->answered_ns = now;
        f->dlg = DLG_CONFIRMED;
        (void)send_ack_2xx(f);
        late_answer(f, now);
        return;
    }
    memcpy(l->to_tag, tag, sizeof tag);
    take_target(l, m);
    take_route_set(l, m);
    l->inv = INV_ACCEPTED;
    l->inv_end_ns = now + timer_b_ns();
    l->cancel_wanted = 0;
    l->status = m->status;
    l->answered_ns = now;
    if (l->progress_ns == 0)
        l->progress_ns = now;
    l->dlg = DLG_CONFIRMED;
    (void)send_ack_2xx(l);
    if (l->call >= 0) {
        l->dial_end_ns = 0;
        l->bye_at_ns = draining ? now : now + cfg.call_length_ns;
        attempt_ended(l, m->status, sip_result(m->status, 0), latency_of(l), 0,
                      now);
        /* Only with an override mapping a 2xx to something else (see
         * fo_router_set_sip_result()) does the call not end here: then
         * this answer must not stay up while the call goes on. */
        if (class_of(l->reported) != FO_CLASS_SUCCESS)
            l->bye_at_ns = now;
    } else {
        late_answer(l, now);
    }
}

/* A final non-2xx response to a leg's INVITE. */
static void on_error_final(struct leg *l, const struct sipmsg *m, uint64_t now)
{
    fo_result result;

    if (l->inv == INV_COMPLETED) {
        (void)send_ack_error(l); /* a retransmission: ACK it again */
        return;
    }
    if (l->inv != INV_CALLING && l->inv != INV_PROCEEDING)
        return;
    (void)span_copy(l->to_tag, sizeof l->to_tag, param(m->to, "tag"));
    l->inv = INV_COMPLETED;
    l->inv_end_ns = now + TIMER_D_NS;
    l->status = m->status;
    if (l->progress_ns == 0)
        l->progress_ns = now;
    (void)send_ack_error(l);
    /* A leg the call has moved on from had its result reported then:
     * what comes now (487 after our CANCEL) is not reported again. */
    if (l->call >= 0) {
        result = sip_result(m->status, l->rang ? FO_SIP_RANG : 0);
        l->dial_end_ns = 0;
        attempt_ended(l, m->status, result, latency_of(l), retry_after_of(m),
                      now);
    }
}

static void on_invite_response(struct leg *l, const struct sipmsg *m,
                               uint64_t now)
{
    if (m->status < 200) {
        if (l->inv == INV_CALLING) {
            l->inv = INV_PROCEEDING; /* Timer A and B stop */
            l->inv_end_ns = 0;
        }
        if (l->inv != INV_PROCEEDING)
            return;
        if (m->status >= 180 && l->progress_ns == 0)
            l->progress_ns = now;
        if (m->status >= 180 && m->status <= 183)
            l->rang = 1;
        /* Given up on before any response: now it may be cancelled. */
        if (l->cancel_wanted)
            start_cancel(l, now);
        return;
    }
    if (m->status < 300)
        on_2xx(l, m, now);
    else
        on_error_final(l, m, now);
}

/* The INVITE transaction is over by its timers. Without a final response
 * (Timer B, or 64*T1 after the CANCEL) that is the end of the attempt if
 * the call still waits for it: our own 408. */
static void invite_expired(struct leg *l, uint64_t now)
{
    int pending = l->inv == INV_CALLING || l->inv == INV_PROCEEDING;

    l->inv = INV_TERMINATED;
    l->inv_end_ns = 0;
    if (pending && l->call >= 0) {
        l->dial_end_ns = 0;
        attempt_ended(
            l, 0, sip_result(408, FO_SIP_LOCAL | (l->rang ? FO_SIP_RANG : 0)),
            0, 0, now);
    }
}

static int leg_finished(const struct leg *l)
{
    return l->call < 0 && !l->cancel.active &&
           (l->inv == INV_NONE || l->inv == INV_TERMINATED) &&
           (l->dlg == DLG_NONE || l->dlg == DLG_ENDED);
}

/* Runs a leg's timers; frees it when it has nothing left to do. */
static void service_leg(struct leg *l, uint64_t now, uint64_t *next)
{
    if (l->inv == INV_CALLING && now >= l->inv_next_ns) {
        /* Timer A: doubles every time, with no cap, until Timer B. */
        (void)send_invite(l);
        l->inv_interval_ms *= 2;
        l->inv_next_ns = now + (uint64_t)l->inv_interval_ms * MS;
    }
    if (l->call >= 0 && l->dial_end_ns != 0 && now >= l->dial_end_ns)
        dial_timeout(l, now);
    if (l->inv_end_ns != 0 && now >= l->inv_end_ns)
        invite_expired(l, now);
    if (l->cancel.active) {
        if (now >= l->cancel.end_ns)
            l->cancel.active = 0;
        else if (ntxn_retransmit_due(&l->cancel, now))
            (void)send_cancel(l);
    }
    if (l->dlg == DLG_CONFIRMED && now >= l->bye_at_ns)
        start_bye(l, now);
    if (l->dlg == DLG_BYE) {
        if (now >= l->bye.end_ns)
            bye_done(l, 0, now);
        else if (ntxn_retransmit_due(&l->bye, now))
            (void)send_bye(l);
    }
    if (leg_finished(l)) {
        free_leg(l);
        return;
    }
    if (l->inv == INV_CALLING)
        next_at(next, l->inv_next_ns);
    if (l->call >= 0)
        next_at(next, l->dial_end_ns);
    next_at(next, l->inv_end_ns);
    if (l->cancel.active) {
        next_at(next, l->cancel.next_ns);
        next_at(next, l->cancel.end_ns);
    }
    if (l->dlg == DLG_CONFIRMED)
        next_at(next, l->bye_at_ns);
    if (l->dlg == DLG_BYE) {
        next_at(next, l->bye.next_ns);
        next_at(next, l->bye.end_ns);
    }
}

/* ---- probes: OPTIONS keepalives --------------------------------------------
 */

static void probe_done(struct carrier *c, fo_result result)
{
    int rc = fo_probe_done(router, c->token, result);

    /* FO_EALREADY: the router timed the probe out first, or replaced it;
     * FO_ENOENT: the probe is gone. Both are counted by the router. */
    if (rc != FO_OK && rc != FO_EALREADY && rc != FO_ENOENT)
        lib_error("fo_probe_done", rc);
}

/* fo_probe_cb: called from fo_router_tick() when a carrier is due. Sends
 * the OPTIONS and returns; the answer or Timer F completes the probe. */
static void probe(fo_router *r, fo_route_id route, fo_probe_token token,
                  void *userdata)
{
    struct carrier *c = userdata;
    uint64_t now = now_ns();

    (void)r;
    (void)route;
    make_branch(c->probe_branch, sizeof c->probe_branch, 'p',
                (unsigned)(c - carriers));
    random_hex(c->probe_call_id, 24);
    random_hex(c->probe_tag, 16);
    c->probe_cseq++;
    c->token = token;
    c->probes_sent++;
    ntxn_start(&c->probe, now, probe_timeout_ns());
    if (send_options(c) != 0) {
        c->probe.active = 0;
        c->probes_lost++;
        probe_done(c, FO_RESULT_UNAVAILABLE);
    }
}

static void service_probe(struct carrier *c, uint64_t now, uint64_t *next)
{
    if (!c->probe.active)
        return;
    if (now >= c->probe.end_ns) {
        c->probe.active = 0;
        c->probes_lost++;
        probe_done(c, FO_RESULT_TIMEOUT);
        return;
    }
    if (ntxn_retransmit_due(&c->probe, now))
        (void)send_options(c);
    next_at(next, c->probe.next_ns);
    next_at(next, c->probe.end_ns);
}

/* Any final answer to OPTIONS proves the carrier is up, except 503: many
 * carriers answer OPTIONS from a peer they do not know with 403, 404 or
 * 405, and they are up all the same. */
static void on_options_response(struct carrier *c, const struct sipmsg *m)
{
    if (!c->probe.active || !span_is(m->cseq_method, "OPTIONS"))
        return;
    if (m->status < 200) {
        c->probe.proceeding = 1;
        return;
    }
    c->probe.active = 0;
    if (m->status == 503) {
        c->probes_down++;
        probe_done(c, FO_RESULT_REJECTED);
    } else {
        c->probes_ok++;
        probe_done(c, FO_RESULT_SUCCESS);
    }
}

/* ---- incoming packets --------------------------------------------------- */

/* Answers a request the carrier sent us: all its Vias, From, To (with a
 * tag of ours if it had none), Call-ID, CSeq. Sent back where it came
 * from (RFC 3581 style), which is what UDP peers behind NAT need. */
static void respond(const struct sipmsg *m, int status, const char *reason,
                    const char *extra, const struct sockaddr_in *to)
{
    struct buf b;
    char tag[17];

    b.len = 0;
    b.overflow = 0;
    bput(&b, "SIP/2.0 %d %s\r\n", status, reason);
    for (int i = 0; i < m->nvia; i++)
        bput(&b, "Via: %.*s\r\n", (int)m->via[i].n, m->via[i].p);
    bput(&b, "From: %.*s\r\n", (int)m->from.n, m->from.p);
    if (param(m->to, "tag").p == NULL) {
        random_hex(tag, 16);
        bput(&b, "To: %.*s;tag=%s\r\n", (int)m->to.n, m->to.p, tag);
    } else {
        bput(&b, "To: %.*s\r\n", (int)m->to.n, m->to.p);
    }
    bput(&b, "Call-ID: %.*s\r\n", (int)m->call_id.n, m->call_id.p);
    bput(&b, "CSeq: %lu %.*s\r\n", m->cseq, (int)m->cseq_method.n,
         m->cseq_method.p);
    bput(&b, "%s", extra);
    bput(&b, "Content-Length: 0\r\n\r\n");
    (void)send_buf(&b, to);
}

/* The leg whose dialog a request from the carrier belongs to: our tag in
 * its To, theirs in its From. */
static struct leg *find_dialog(const struct sipmsg *m)
{
    struct span ours = param(m->to, "tag"), theirs = param(m->from, "tag");

    for (unsigned i = 0; i < legs_hw; i++) {
        struct leg *l = &legs[i];

        if (l->used && l->dlg != DLG_NONE &&
            m->call_id.n == strlen(l->call_id) &&
            memcmp(m->call_id.p, l->call_id, m->call_id.n) == 0 &&
            ours.n == strlen(l->from_tag) &&
            memcmp(ours.p, l->from_tag, ours.n) == 0 &&
            theirs.n == strlen(l->to_tag) &&
            memcmp(theirs.p, l->to_tag, theirs.n) == 0)
            return l;
    }
    return NULL;
}

static void on_request(const struct sipmsg *m, const struct sockaddr_in *from,
                       uint64_t now)
{
    static const char allow[] = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n";

    if (m->nvia == 0 || m->call_id.p == NULL || m->from.p == NULL ||
        m->to.p == NULL || m->cseq_method.p == NULL) {
        stats.bad_packets++;
        return;
    }
    if (span_is(m->method, "ACK"))
        return; /* ACKs our error answers to re-INVITEs: nothing to do */
    if (span_is(m->method, "BYE")) {
        struct leg *l = find_dialog(m);

        if (l == NULL || l->dlg == DLG_ENDED) {
            respond(m, 481, "Call/Transaction Does Not Exist", "", from);
            return;
        }
        /* The callee hung up first. If our BYE is in flight too, it is
         * left to finish: the carrier answers it, 200 or 481. */
        respond(m, 200, "OK", "", from);
        stats.remote_hangups++;
        if (l->dlg == DLG_CONFIRMED) {
            l->dlg = DLG_ENDED;
            if (l->late) {
                stats.late_hung_up++;
                json_late(l, -1, now);
            }
        }
        return;
    }
    if (span_is(m->method, "OPTIONS"))
        respond(m, 200, "OK", allow, from);
    else if (span_is(m->method, "CANCEL"))
        respond(m, 481, "Call/Transaction Does Not Exist", "", from);
    else if (span_is(m->method, "INVITE"))
        /* We take no calls and change no session: the call goes on as it
         * was (RFC 3261 14.2). */
        respond(m, 488, "Not Acceptable Here", "", from);
    else
        respond(m, 405, "Method Not Allowed", allow, from);
}

/* A 2xx to an INVITE no leg has any more (its transaction ended long
 * ago): the callee answered anyway, so it is ACKed and hung up all the
 * same. The carrier is known by the address it came from. */
static void on_orphan_2xx(const struct sipmsg *m,
                          const struct sockaddr_in *from, uint64_t now)
{
    char call_id[48], from_tag[24], to_tag[64];
    struct leg *l;
    int k;

    if (span_copy(call_id, sizeof call_id, m->call_id) != 0 ||
        span_copy(from_tag, sizeof from_tag, param(m->from, "tag")) != 0 ||
        span_copy(to_tag, sizeof to_tag, param(m->to, "tag")) != 0 ||
        to_tag[0] == '\0')
        return;
    for (unsigned i = 0; i < legs_hw; i++) {
        l = &legs[i];
        if (l->used && l->dlg != DLG_NONE && strcmp(l->call_id, call_id) == 0 &&
            strcmp(l->to_tag, to_tag) == 0) {
            (void)send_ack_2xx(l); /* a retransmission: ACK it again */
            return;
        }
    }
    for (k = 0; k < ncarriers; k++)
        if (carriers[k].addr.sin_addr.s_addr == from->sin_addr.s_addr &&
            carriers[k].addr.sin_port == from->sin_port)
            break;
    if (k == ncarriers)
        return; /* from no carrier of ours: not ours to answer */
    l = adopt_dialog(k, 0, call_id, from_tag, m);
    if (l == NULL) {
        stats.errors++;
        return;
    }
    l->answered_ns = now;
    l->dlg = DLG_CONFIRMED;
    (void)send_ack_2xx(l);
    late_answer(l, now);
}

static void on_response(const struct sipmsg *m, const struct sockaddr_in *from,
                        uint64_t now)
{
    struct span branch;
    char kind, *dot;
    unsigned long slot;
    int is_invite;

    if (m->nvia == 0 || m->call_id.p == NULL || m->to.p == NULL ||
        m->cseq_method.p == NULL) {
        stats.bad_packets++;
        return;
    }
    branch = param(first_value(m->via[0], NULL), "branch");
    if (branch.n < 10 || branch.n >= 40 || strncmp(branch.p, "z9hG4bK", 7) != 0)
        return;
    kind = branch.p[7];
    slot = strtoul(branch.p + 8, &dot, 16);
    if (dot == branch.p + 8 || dot >= branch.p + branch.n || *dot != '.')
        return;
    is_invite = span_is(m->cseq_method, "INVITE");
    if (kind == 'p') {
        struct carrier *c;

        if (slot >= (unsigned long)ncarriers)
            return;
        c = &carriers[slot];
        if (branch.n == strlen(c->probe_branch) &&
            memcmp(branch.p, c->probe_branch, branch.n) == 0)
            on_options_response(c, m);
        return;
    }
    if (slot >= legs_hw || !legs[slot].used) {
        if (kind == 'i' && is_invite && m->status >= 200 && m->status < 300)
            on_orphan_2xx(m, from, now);
        return;
    }
    {
        struct leg *l = &legs[slot];

        if (kind == 'i' && branch.n == strlen(l->inv_branch) &&
            memcmp(branch.p, l->inv_branch, branch.n) == 0) {
            if (is_invite)
                on_invite_response(l, m, now);
            else if (span_is(m->cseq_method, "CANCEL") && l->cancel.active) {
                if (m->status < 200)
                    l->cancel.proceeding = 1;
                else
                    l->cancel.active = 0; /* 200, or 481: the INVITE ended */
            }
        } else if (kind == 'b' && branch.n == strlen(l->bye_branch) &&
                   memcmp(branch.p, l->bye_branch, branch.n) == 0 &&
                   l->dlg == DLG_BYE && span_is(m->cseq_method, "BYE")) {
            if (m->status < 200)
                l->bye.proceeding = 1;
            else
                bye_done(l, m->status, now);
        } else if (kind == 'i' && is_invite && m->status >= 200 &&
                   m->status < 300) {
            on_orphan_2xx(m, from, now); /* the slot has a new leg now */
        }
    }
}

static void on_packet(const char *buf, size_t len,
                      const struct sockaddr_in *from)
{
    struct sipmsg m;
    uint64_t now = now_ns();

    if (len < 4 || (buf[0] == '\r' && buf[1] == '\n'))
        return; /* a keepalive (RFC 5626 CRLF) */
    if (parse_msg(buf, len, &m) != 0) {
        stats.bad_packets++;
        return;
    }
    if (m.status == 0)
        on_request(&m, from, now);
    else
        on_response(&m, from, now);
}

/* ---- events: what the router decides ---------------------------------------
 */

static void json_time_or_null(const char *key, uint64_t router_ns)
{
    fprintf(report, ",\"%s\":", key);
    if (router_ns == 0)
        fputs("null", report);
    else
        fprintf(report, "%.6f", rel(router_ns + router_offset_ns));
}

/* The router's event callback: every change of a carrier's state, with
 * the router's reason, as it happens. */
static void on_event(fo_router *r, const fo_event *ev, void *userdata)
{
    (void)r;
    (void)userdata;
    switch (ev->kind) {
    case FO_EVENT_STATE:
        say("%s %s -> %s: %s\n", ev->route_name,
            fo_route_state_name(ev->old_state),
            fo_route_state_name(ev->new_state), ev->text);
        break;
    case FO_EVENT_UPDATE:
    case FO_EVENT_GUARD:
        say("%s %s: %s\n", ev->route_name, fo_route_state_name(ev->new_state),
            ev->text);
        break;
    case FO_EVENT_ROUTE_ADDED:
        break;
    default:
        say("%s%s%s: %s\n", fo_event_kind_name(ev->kind),
            ev->route_name[0] != '\0' ? " " : "", ev->route_name, ev->text);
        break;
    }
    if (report == NULL)
        return;
    fprintf(report, "{\"type\":\"event\",\"t\":%.6f,\"kind\":",
            rel(ev->time_ns + router_offset_ns));
    json_str(fo_event_kind_name(ev->kind));
    fputs(",\"route\":", report);
    json_str(ev->route_name);
    fputs(",\"old\":", report);
    json_str(fo_route_state_name(ev->old_state));
    fputs(",\"new\":", report);
    json_str(fo_route_state_name(ev->new_state));
    fputs(",\"reason\":", report);
    json_str(fo_reason_name(ev->reason));
    fputs(",\"text\":", report);
    json_str(ev->text);
    json_time_or_null("until", ev->until_ns);
    fputs("}\n", report);
}

/* ---- the loop ---------------------------------------------------------- */

static uint64_t service(uint64_t now)
{
    uint64_t next = UINT64_MAX;

    for (int k = 0; k < ncarriers; k++)
        service_probe(&carriers[k], now, &next);
    for (unsigned i = 0; i < legs_hw; i++)
        if (legs[i].used)
            service_leg(&legs[i], now, &next);
    return next;
}

/* Work the drain waits for: calls still dialling, answered calls not yet
 * hung up, CANCELs and BYEs in flight, cancelled INVITEs awaiting their
 * final response. INVITEs that never got any response are not waited for:
 * nothing would come of it but their Timer B. */
static int in_flight(void)
{
    if (calls_hw > 0)
        return 1;
    for (unsigned i = 0; i < legs_hw; i++) {
        const struct leg *l = &legs[i];

        if (l->used && (l->cancel.active || l->dlg == DLG_CONFIRMED ||
                        l->dlg == DLG_BYE || l->inv == INV_PROCEEDING))
            return 1;
    }
    return 0;
}

static void start_drain(uint64_t now)
{
    unsigned up = 0, dialling = 0;
    int rc;

    draining = 1;
    /* No more keepalives; the ones in flight are of no interest now. */
    for (int k = 0; k < ncarriers; k++) {
        rc = fo_set_probe(router, carriers[k].route, NULL, NULL, NULL);
        if (rc != FO_OK)
            lib_error("fo_set_probe", rc);
        carriers[k].probe.active = 0;
    }
    for (unsigned i = 0; i < legs_hw; i++) {
        if (legs[i].used && legs[i].dlg == DLG_CONFIRMED) {
            legs[i].bye_at_ns = now;
            up++;
        }
    }
    for (unsigned i = 0; i < calls_hw; i++)
        dialling += calls[i].used ? 1u : 0u;
    say("stopping: %u calls dialling, %u answered calls to hang up\n", dialling,
        up);
}

/* The drain's time is up: whatever is still dialling is abandoned, and
 * every answered call and every INVITE still ringing gets its BYE or
 * CANCEL once, so no carrier is left with a call nobody is on. */
static void final_sweep(uint64_t now)
{
    for (unsigned i = 0; i < calls_hw; i++) {
        struct call *c = &calls[i];

        if (!c->used)
            continue;
        if (c->leg >= 0) {
            legs[c->leg].call = -1;
            legs[c->leg].cancel_wanted = 1;
        }
        conclude(c, OUT_ABANDONED, 0, -1, NULL, now);
    }
    for (unsigned i = 0; i < legs_hw; i++) {
        struct leg *l = &legs[i];

        if (!l->used)
            continue;
        if (l->dlg == DLG_CONFIRMED) {
            stats.byes_sent++;
            stats.byes_lost++;
            (void)send_bye(l);
        } else if (l->dlg == DLG_BYE) {
            stats.byes_lost++;
        }
        if (l->late && (l->dlg == DLG_CONFIRMED || l->dlg == DLG_BYE))
            json_late(l, 0, now);
        if (l->inv == INV_PROCEEDING && !l->cancel_sent)
            (void)send_cancel(l);
    }
}

static int ms_until(uint64_t t, uint64_t now)
{
    uint64_t ms;

    if (t <= now)
        return 0;
    ms = (t - now + MS - 1) / MS;
    return ms > 60000 ? 60000 : (int)ms;
}

static void read_packets(void)
{
    char buf[PKT_MAX];

    for (int i = 0; i < RECV_BURST; i++) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t n = recvfrom(sip_fd, buf, sizeof buf - 1, 0,
                             (struct sockaddr *)&from, &flen);

        if (n < 0)
            return; /* EAGAIN: all read; anything else: next turn */
        if ((size_t)n >= sizeof buf - 1) {
            stats.bad_packets++; /* too long for us: dropped */
            continue;
        }
        buf[n] = '\0';
        on_packet(buf, (size_t)n, &from);
    }
}

static void drop_media(void)
{
    char buf[2048];

    for (int i = 0; i < RECV_BURST; i++)
        if (recv(rtp_fd, buf, sizeof buf, 0) < 0)
            return;
}

static int run(void)
{
    uint64_t interval_ns = (uint64_t)(1e9 / cfg.rate);
    uint64_t end_ns = start_ns + cfg.duration_ns, drain_end_ns = 0;
    uint64_t next_call_ns = start_ns;

    /* Bounded by the duration and the drain: every turn either places
     * calls, waits for a timer or a packet, or ends the loop. */
    for (;;) {
        struct pollfd pfd[2] = {{sip_fd, POLLIN, 0}, {rtp_fd, POLLIN, 0}};
        uint64_t now = now_ns(), next;
        int ms, wait, rc;

        if (!draining && (now >= end_ns || stopping)) {
            start_drain(now);
            drain_end_ns = now + cfg.drain_ns;
        }
        if (draining && (stopping > 1 || now >= drain_end_ns || !in_flight())) {
            final_sweep(now);
            return 0;
        }
        for (int burst = 0; !draining && now >= next_call_ns; burst++) {
            if (burst == MAX_BURST) {
                next_call_ns = now + interval_ns; /* behind: do not flood */
                break;
            }
            place_call(now);
            next_call_ns += interval_ns;
        }
        /* Due probes, probe timeouts, ends of hold-downs and trials. */
        rc = fo_router_tick(router);
        if (rc != FO_OK)
            lib_error("fo_router_tick", rc);
        now = now_ns();
        next = service(now);
        next_at(&next, draining ? drain_end_ns : next_call_ns);
        if (!draining)
            next_at(&next, end_ns);
        rc = fo_router_next_timeout_ms(router, &ms);
        if (rc != FO_OK) {
            lib_error("fo_router_next_timeout_ms", rc);
            ms = 100;
        }
        wait = ms_until(next, now);
        if (ms >= 0 && ms < wait)
            wait = ms;
        if (poll(pfd, 2, wait) < 0 && errno != EINTR) {
            perror("poll");
            return -1;
        }
        if (pfd[0].revents & POLLIN)
            read_packets();
        if (pfd[1].revents & POLLIN)
            drop_media();
    }
}

/* ---- setup ----------------------------------------------------------------
 */

static void usage(void)
{
    fprintf(stderr,
            "usage: sip_dialer --to NUMBER --carrier "
            "NAME=HOST:PORT[,priority=N][,weight=N]\n"
            "       --carrier ... [--from USER] [--rate N] [--duration S]\n"
            "       [--call-length S] [--dial-timeout S] "
            "[--options-interval S]\n"
            "       [--local-port N] [--max-attempts N] "
            "[--consecutive-faults N]\n"
            "       [--hold-down S] [--t1 MS] [--drain S] "
            "[--report-json FILE]\n");
    exit(2);
}

static int parse_uint(const char *v, unsigned long min, unsigned long max,
                      unsigned *out)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n < min ||
        n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
}

static int parse_double(const char *v, double min, double max, double *out)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= min) || !(d <= max))
        return -1;
    *out = d;
    return 0;
}

static int parse_seconds(const char *v, double min, double max, uint64_t *out)
{
    double s;

    if (parse_double(v, min, max, &s) != 0)
        return -1;
    *out = (uint64_t)(s * 1e9 + 0.5);
    return 0;
}

/* The user part we put in URIs: digits, letters and the few marks a
 * dialled number has, none of which needs escaping in a SIP URI ('#'
 * would: it is not taken). */
static int valid_user(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || strchr("+*._-", ch) != NULL))
            return 0;
    }
    return 1;
}

/* NAME=HOST:PORT[,priority=N][,weight=N] */
static int add_carrier(const char *arg)
{
    struct carrier *c = &carriers[ncarriers];
    const char *eq = strchr(arg, '='), *opts = strchr(arg, ',');
    const char *colon, *hp_end;
    char port[8], spec[128];
    struct addrinfo hints, *res;
    size_t name_len, host_len;

    if (ncarriers == MAX_CARRIERS || eq == NULL)
        return -1;
    hp_end = opts != NULL ? opts : arg + strlen(arg);
    colon = NULL;
    for (const char *p = eq; p < hp_end; p++)
        if (*p == ':')
            colon = p;
    if (colon == NULL)
        return -1;
    name_len = (size_t)(eq - arg);
    host_len = (size_t)(colon - eq - 1);
    if (name_len == 0 || name_len > FO_ROUTE_NAME_MAX || host_len == 0 ||
        host_len >= sizeof c->host ||
        (size_t)(hp_end - colon - 1) >= sizeof port)
        return -1;
    memcpy(c->name, arg, name_len);
    memcpy(c->host, eq + 1, host_len);
    memcpy(port, colon + 1, (size_t)(hp_end - colon - 1));
    port[hp_end - colon - 1] = '\0';
    if (parse_uint(port, 1, 65535, &c->port) != 0)
        return -1;
    c->priority = (uint32_t)ncarriers + 1;
    c->weight = 1;
    if (opts != NULL) {
        if (strlen(opts + 1) >= sizeof spec)
            return -1;
        strcpy(spec, opts + 1);
        for (char *save = NULL, *tok = strtok_r(spec, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            unsigned v;

            if (strncmp(tok, "priority=", 9) == 0 &&
                parse_uint(tok + 9, 0, UINT32_MAX, &v) == 0)
                c->priority = v;
            else if (strncmp(tok, "weight=", 7) == 0 &&
                     parse_uint(tok + 7, 0, FO_WEIGHT_MAX, &v) == 0)
                c->weight = v;
            else
                return -1;
        }
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(c->host, port, &hints, &res) != 0) {
        fprintf(stderr, "sip_dialer: %s: cannot resolve %s\n", c->name,
                c->host);
        return -1;
    }
    memcpy(&c->addr, res->ai_addr, sizeof c->addr);
    freeaddrinfo(res);
    ncarriers++;
    return 0;
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    return flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -1 : 0;
}

/* Our address is the one the kernel picks to reach the first carrier. */
static int open_sockets(void)
{
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)&carriers[0].addr,
                sizeof carriers[0].addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&me, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    if (inet_ntop(AF_INET, &me.sin_addr, local_ip, sizeof local_ip) == NULL)
        return -1;
    me.sin_port = htons((uint16_t)cfg.local_port);
    sip_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (sip_fd < 0 || set_nonblocking(sip_fd) != 0 ||
        bind(sip_fd, (const struct sockaddr *)&me, sizeof me) != 0)
        return -1;
    len = sizeof me;
    if (getsockname(sip_fd, (struct sockaddr *)&me, &len) != 0)
        return -1;
    local_port = ntohs(me.sin_port);
    me.sin_port = 0;
    rtp_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (rtp_fd < 0 || set_nonblocking(rtp_fd) != 0 ||
        bind(rtp_fd, (const struct sockaddr *)&me, sizeof me) != 0)
        return -1;
    len = sizeof me;
    if (getsockname(rtp_fd, (struct sockaddr *)&me, &len) != 0)
        return -1;
    rtp_port = ntohs(me.sin_port);
    return 0;
}

/* Slots for the most calls and legs that can be alive at once at this
 * rate: a call lives through its attempts' dial timeouts; a leg at most
 * through its dial, Timer B after a CANCEL, the call and its BYE (Timer F)
 * or Timer D. */
static int size_pools(void)
{
    double dial_s = (double)cfg.dial_timeout_ns / 1e9;
    double t64_s = (double)timer_b_ns() / 1e9;
    double call_s = (double)cfg.max_attempts * dial_s + 2.0;
    double leg_s = dial_s + (double)cfg.call_length_ns / 1e9 + 2.0 * t64_s +
                   (double)TIMER_D_NS / 1e9 + 2.0;
    double ncalls = cfg.rate * call_s + 16.0;
    double nlegs = cfg.rate * (double)cfg.max_attempts * leg_s + 32.0;

    calls_cap = ncalls > MAX_SLOTS ? MAX_SLOTS : (unsigned)ncalls;
    legs_cap = nlegs > MAX_SLOTS ? MAX_SLOTS : (unsigned)nlegs;
    calls = calloc(calls_cap, sizeof *calls);
    legs = calloc(legs_cap, sizeof *legs);
    return calls != NULL && legs != NULL ? 0 : -1;
}

/* The router, its event callback, every carrier as a route with its
 * OPTIONS probe. Says what failed; 0 on success. */
static int setup_router(void)
{
    fo_router_options opts;
    fo_probe_options popts;
    const char *what = "fo_router_options_init";
    char carrier_what[FO_ROUTE_NAME_MAX + 16];
    uint64_t rnow;
    int rc;

    rc = FO_ROUTER_OPTIONS_INIT(&opts);
    if (rc == FO_OK) {
        /* The router reads our clock, not its coarse default: the record
         * orders calls and state changes on one time base, to the ns. */
        opts.clock = &dialer_clock;
        opts.max_attempts = cfg.max_attempts;
        opts.consecutive_faults = cfg.consecutive_faults;
        opts.hold_down_ns = cfg.hold_down_ns;
        if (opts.hold_down_ns > FO_DEFAULT_HOLD_DOWN_MAX_NS)
            opts.hold_down_max_ns = opts.hold_down_ns;
        what = "fo_router_new";
        rc = fo_router_new(&router, &opts);
    }
    if (rc == FO_OK) {
        what = "fo_router_set_event_cb";
        rc = fo_router_set_event_cb(router, on_event, NULL);
    }
    if (rc == FO_OK) {
        /* Event times are on the router's clock; ours is CLOCK_MONOTONIC. */
        what = "fo_router_now";
        rc = fo_router_now(router, &rnow);
        router_offset_ns = now_ns() - rnow;
    }
    if (rc == FO_OK) {
        what = "fo_probe_options_init";
        rc = FO_PROBE_OPTIONS_INIT(&popts);
        popts.interval_ns = cfg.options_interval_ns;
        /* Our own Timer F ends a probe first (see probe()); the router's
         * timeout is only the backstop. */
        popts.timeout_ns = probe_timeout_ns() + 250 * MS;
    }
    for (int k = 0; rc == FO_OK && k < ncarriers; k++) {
        struct carrier *c = &carriers[k];

        snprintf(carrier_what, sizeof carrier_what, "carrier %s", c->name);
        what = carrier_what;
        rc =
            fo_route_add(router, c->name, c->priority, c->weight, 0, &c->route);
        if (rc == FO_OK && cfg.options_interval_ns > 0)
            rc = fo_set_probe(router, c->route, probe, c, &popts);
    }
    if (rc != FO_OK) {
        fprintf(stderr, "sip_dialer: %s: %s\n", what, fo_strerror(rc));
        return -1;
    }
    return 0;
}

static void json_start(void)
{
    fprintf(report, "{\"type\":\"start\",\"mono\":%.6f,\"to\":",
            (double)start_ns / 1e9);
    json_str(cfg.to);
    fprintf(report,
            ",\"local\":\"%s:%u\",\"rate\":%.3f,\"duration\":%.3f,"
            "\"call_length\":%.3f,\"dial_timeout\":%.3f,"
            "\"options_interval\":%.3f,\"max_attempts\":%u,"
            "\"consecutive_faults\":%u,\"hold_down\":%.3f,\"t1_ms\":%u,"
            "\"carriers\":[",
            local_ip, local_port, cfg.rate, (double)cfg.duration_ns / 1e9,
            (double)cfg.call_length_ns / 1e9, (double)cfg.dial_timeout_ns / 1e9,
            (double)cfg.options_interval_ns / 1e9, cfg.max_attempts,
            cfg.consecutive_faults, (double)cfg.hold_down_ns / 1e9, cfg.t1_ms);
    for (int k = 0; k < ncarriers; k++) {
        fprintf(report, "%s{\"name\":", k > 0 ? "," : "");
        json_str(carriers[k].name);
        fputs(",\"host\":", report);
        json_str(carriers[k].host);
        fprintf(report, ",\"port\":%u,\"priority\":%u,\"weight\":%u}",
                carriers[k].port, (unsigned)carriers[k].priority,
                (unsigned)carriers[k].weight);
    }
    fputs("]}\n", report);
}

static void print_summary(uint64_t now)
{
    printf("\nSummary after %.1f s:\n"
           "  calls placed       %6u\n"
           "  connected          %6u\n"
           "  busy / no answer   %6u  (the callee's doing: not retried)\n"
           "  other endings      %6u\n"
           "  failed             %6u\n"
           "  retried            %6u  (needed more than one carrier)\n"
           "  late answers       %6u  (answered after the call moved on: "
           "ACKed and hung up, %u confirmed)\n"
           "  abandoned          %6u  (still dialling at the end)\n",
           rel(now), stats.placed, stats.connected, stats.callee, stats.neutral,
           stats.failed, stats.retried, stats.late, stats.late_hung_up,
           stats.abandoned);
    if (stats.not_placed > 0)
        printf("  not placed         %6u  (no free slot)\n", stats.not_placed);
    printf("  hang-ups           %6u sent, %u answered, %u by the callee\n",
           stats.byes_sent, stats.byes_ok, stats.remote_hangups);
    printf("\n%-16s %-10s %8s %8s %7s %7s %5s %9s\n", "CARRIER", "STATE",
           "ATTEMPTS", "ANSWERED", "FAULTS", "CALLEE", "LATE", "OPTIONS");
    for (int k = 0; k < ncarriers; k++) {
        const struct carrier *c = &carriers[k];
        fo_route_state st = FO_STATE_UP;
        int rc = fo_route_get_state(router, c->route, &st);
        char probes[24];

        if (rc != FO_OK)
            lib_error("fo_route_get_state", rc);
        snprintf(probes, sizeof probes, "%u/%u", c->probes_ok, c->probes_sent);
        printf("%-16s %-10s %8u %8u %7u %7u %5u %9s\n", c->name,
               fo_route_state_name(st), c->attempts, c->answered, c->faults,
               c->callee, c->late, probes);
    }
    if (report == NULL)
        return;
    fprintf(report,
            "{\"type\":\"summary\",\"elapsed\":%.6f,\"placed\":%u,"
            "\"not_placed\":%u,\"connected\":%u,\"callee\":%u,\"neutral\":%u,"
            "\"failed\":%u,\"retried\":%u,\"late_answers\":%u,"
            "\"late_hung_up\":%u,\"abandoned\":%u,\"byes_sent\":%u,"
            "\"byes_answered\":%u,\"byes_unanswered\":%u,"
            "\"remote_hangups\":%u,\"bad_packets\":%u,\"errors\":%u,"
            "\"carriers\":[",
            rel(now), stats.placed, stats.not_placed, stats.connected,
            stats.callee, stats.neutral, stats.failed, stats.retried,
            stats.late, stats.late_hung_up, stats.abandoned, stats.byes_sent,
            stats.byes_ok, stats.byes_lost, stats.remote_hangups,
            stats.bad_packets, stats.errors);
    for (int k = 0; k < ncarriers; k++) {
        const struct carrier *c = &carriers[k];

        fprintf(report, "%s{\"name\":", k > 0 ? "," : "");
        json_str(c->name);
        fprintf(report,
                ",\"attempts\":%u,\"answered\":%u,\"faults\":%u,"
                "\"callee\":%u,\"late\":%u,\"probes_sent\":%u,"
                "\"probes_ok\":%u,\"probes_down\":%u,\"probes_lost\":%u}",
                c->attempts, c->answered, c->faults, c->callee, c->late,
                c->probes_sent, c->probes_ok, c->probes_down, c->probes_lost);
    }
    fputs("]}\n", report);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || v == NULL)
            usage();
        i++;
        if (strcmp(a, "--carrier") == 0)
            bad = add_carrier(v);
        else if (strcmp(a, "--to") == 0)
            bad = !valid_user(cfg.to = v);
        else if (strcmp(a, "--from") == 0)
            bad = !valid_user(cfg.from_user = v);
        else if (strcmp(a, "--rate") == 0)
            bad = parse_double(v, 0.01, 1000.0, &cfg.rate);
        else if (strcmp(a, "--duration") == 0)
            bad = parse_seconds(v, 0.1, 7 * 86400.0, &cfg.duration_ns);
        else if (strcmp(a, "--call-length") == 0)
            bad = parse_seconds(v, 0.0, 86400.0, &cfg.call_length_ns);
        else if (strcmp(a, "--dial-timeout") == 0)
            bad = parse_seconds(v, 0.1, 600.0, &cfg.dial_timeout_ns);
        else if (strcmp(a, "--options-interval") == 0)
            bad = parse_seconds(v, 0.0, 3600.0, &cfg.options_interval_ns) ||
                  (cfg.options_interval_ns > 0 &&
                   cfg.options_interval_ns < 100 * MS);
        else if (strcmp(a, "--local-port") == 0)
            bad = parse_uint(v, 0, 65535, &cfg.local_port);
        else if (strcmp(a, "--max-attempts") == 0)
            bad = parse_uint(v, 1, FO_ATTEMPT_MAX_ROUTES, &cfg.max_attempts);
        else if (strcmp(a, "--consecutive-faults") == 0)
            bad = parse_uint(v, 1, FO_MAX_CONSECUTIVE_FAULTS,
                             &cfg.consecutive_faults);
        else if (strcmp(a, "--hold-down") == 0)
            bad = parse_seconds(v, 0.001, 86400.0, &cfg.hold_down_ns);
        else if (strcmp(a, "--t1") == 0)
            bad = parse_uint(v, 50, 10000, &cfg.t1_ms);
        else if (strcmp(a, "--drain") == 0)
            bad = parse_seconds(v, 0.0, 3600.0, &cfg.drain_ns);
        else if (strcmp(a, "--report-json") == 0)
            bad = (cfg.report_path = v)[0] == '\0';
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "sip_dialer: bad argument: %s %s\n", a, v);
            usage();
        }
    }
    if (cfg.to == NULL || ncarriers < MIN_CARRIERS) {
        fprintf(stderr, "sip_dialer: --to and 2 to 8 carriers are needed\n");
        usage();
    }
    /* Zero takes the library's defaults; we need the values themselves. */
    if (cfg.max_attempts == 0)
        cfg.max_attempts = FO_DEFAULT_MAX_ATTEMPTS;
    if (cfg.consecutive_faults == 0)
        cfg.consecutive_faults = FO_DEFAULT_CONSECUTIVE_FAULTS;
    if (cfg.hold_down_ns == 0)
        cfg.hold_down_ns = FO_DEFAULT_HOLD_DOWN_NS;
    if (cfg.drain_ns == 0)
        cfg.drain_ns = cfg.max_attempts * cfg.dial_timeout_ns + SEC;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    int rc, status = 1;

    parse_args(argc, argv);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    if (sigaction(SIGINT, &sa, NULL) != 0 ||
        sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("sip_dialer: sigaction");
        return 1;
    }
    if (open_sockets() != 0) {
        perror("sip_dialer: socket");
        goto out;
    }
    if (size_pools() != 0) {
        fprintf(stderr, "sip_dialer: out of memory\n");
        goto out;
    }
    if (cfg.report_path != NULL) {
        report = fopen(cfg.report_path, "w");
        if (report == NULL) {
            perror(cfg.report_path);
            goto out;
        }
    }
    rnd_state ^= now_ns() ^ ((uint64_t)getpid() << 32);
    start_ns = now_ns();
    if (setup_router() != 0)
        goto out;
    if (report != NULL)
        json_start();
    say("dialling %s at %g calls/s for %g s through %d carriers from %s:%u\n",
        cfg.to, cfg.rate, (double)cfg.duration_ns / 1e9, ncarriers, local_ip,
        local_port);

    status = run() == 0 ? 0 : 1;
    say("stopped\n");
    print_summary(now_ns());
    if (stats.errors > 0)
        status = 1;
out:
    rc = fo_router_free(router); /* NULL: nothing to free */
    if (rc != FO_OK) {
        lib_error("fo_router_free", rc);
        status = 1;
    }
    /* A write that failed on the way shows in ferror(), or in fclose()
     * when the last buffer is flushed. */
    if (report != NULL && (ferror(report) | fclose(report)) != 0) {
        fprintf(stderr, "sip_dialer: %s: write error\n", cfg.report_path);
        status = 1;
    }
    free(calls);
    free(legs);
    if (sip_fd >= 0)
        close(sip_fd);
    if (rtp_fd >= 0)
        close(rtp_fd);
    return status;
}
