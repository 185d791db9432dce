/*
 * fastagi_router: an Asterisk (and VICIdial) FastAGI server that chooses
 * the trunk for every outbound call attempt and learns from the outcome
 * of each one.
 *
 *     fastagi_router [options] --trunk SPEC [--trunk SPEC ...]
 *
 *     --trunk SPEC       NAME[,priority=N][,weight=N][,cost=N][,plan=P]...
 *                        NAME is what the dialplan dials, e.g. the PJSIP
 *                        endpoint of the carrier; priority (1, lower
 *                        first), weight (1; 0 = backup only) and cost (0)
 *                        apply to the default list and to every plan=P the
 *                        trunk is in (repeat plan= for several plans)
 *     --port N           TCP port on 127.0.0.1 (4573, the FastAGI port);
 *                        0 lets the kernel choose
 *     --timeout MS       the longest wait for Asterisk: for the whole
 *                        environment, then for each reply (5000)
 *     --max-conns N      AGI connections served at once (256)
 *     --max-calls N      calls remembered from pick to report (4096)
 *     --call-ttl S       forget a call not heard of for S seconds (600)
 *     --max-attempts N   trunks one call may try (3)
 *     --faults N         route faults in a row that take a trunk out (3)
 *     --hold-down S      the first time out of service, in seconds (15)
 *     --duration S       stop after S seconds (0: until SIGINT/SIGTERM)
 *
 * Two AGI scripts, used from the dialplan around Dial():
 *
 *     AGI(agi://127.0.0.1/pick?plan=outbound)
 *         Picks the next trunk for this call (the channel's uniqueid) from
 *         plan "outbound" (no plan: every trunk), and sets FO_TRUNK to its
 *         name and FO_STATUS to OK. FO_STATUS is NOROUTE when every trunk
 *         of the plan has been tried, EXHAUSTED when the call has used
 *         --max-attempts trunks, ERROR when the request cannot be served
 *         (unknown plan, no agi_uniqueid). A retry of the same call moves
 *         down the list. It also clears DIALSTATUS, so that a report with
 *         no Dial() in between does not read the previous attempt's.
 *
 *     AGI(agi://127.0.0.1/report)
 *         Reads DIALSTATUS and HANGUPCAUSE, tells the router what happened
 *         on the trunk picked last for this call, and sets FO_RETRY to 1
 *         when that trunk failed the call and another may carry it, else
 *         0. The call is forgotten once it is over: answered, refused by
 *         the callee, given up, or out of trunks to try.
 *
 * The protocol is Asterisk's own (res_agi.c): once connected, Asterisk
 * sends "agi_network: yes", "agi_network_script: pick?plan=outbound", then
 * "agi_request: ...", "agi_uniqueid: ...", ... one "key: value" a line and
 * an empty line; then it runs one command a line and answers each with
 * "200 result=1 (value)", "200 result=0", "510 Invalid or unknown
 * command", "511 Command Not Permitted on a dead channel" or "520 ..."
 * (a multi-line usage text from "520-..." to "520 End of proper usage.").
 * When the channel hangs up meanwhile it sends a line "HANGUP" of its own.
 * The script ends when this side closes the connection.
 *
 * Everything runs in one thread around poll(). Each connection has a
 * deadline (--timeout for the environment, then for each reply); when all
 * --max-conns slots are taken, a new connection replaces the one that has
 * waited longest for its environment, since Asterisk sends its environment
 * at once and only a stalled or hostile peer is still sending it. A line
 * longer than 4095 bytes ends the connection (Asterisk itself reads
 * commands into 2048). Every request writes one line to stderr, and so
 * does every change of a trunk's state; the summary and the router's table
 * go to stdout at the end.
 *
 * IPv4 loopback only: the dialer's Asterisk runs on the same host.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#define MS  FO_MILLISECOND_NS
#define SEC FO_SECOND_NS

#define AGI_LINE_MAX    4096 /* a longer line ends the connection */
#define ENV_LINES_MAX   256  /* ~20 variables and up to 127 agi_arg_N */
#define USAGE_LINES_MAX 256  /* lines of one "520-" usage text */
#define UID_MAX         150  /* Asterisk's AST_MAX_UNIQUEID */
#define SCRIPT_MAX      1024
#define CHANNEL_MAX     80 /* Asterisk's AST_CHANNEL_NAME */
#define STATUS_MAX      32
#define NOTE_MAX        256
#define CMD_MAX         768 /* one command, quoted: ample for the above */
#define MAX_STEPS       4
#define MAX_TRUNKS      64
#define MAX_PLANS       64         /* a plan is a bit in a 64-bit mask */
#define LINGER_NS       (500 * MS) /* after our last command */
#define GRACE_NS        (1 * SEC)  /* for dialogues under way at exit */
#define SWEEP_NS        (1 * SEC)  /* between looks for expired calls */

/* ---- configuration ------------------------------------------------------- */

struct trunk {
    char name[FO_ROUTE_NAME_MAX + 1];
    uint32_t priority, weight, cost;
    uint64_t plans; /* bit i: a member of plans[i] */
    fo_route_id id;
};

struct plan {
    char name[FO_ROUTE_NAME_MAX + 1];
    fo_plan_id id;
    uint32_t routes; /* trunks in it: the most trunks a call can try */
};

static struct trunk trunks[MAX_TRUNKS];
static int ntrunks;
static struct plan plans[MAX_PLANS];
static int nplans;

static struct options {
    unsigned long port, timeout_ms, max_conns, max_calls, call_ttl_s;
    unsigned long max_attempts, faults, hold_down_s, duration_s;
} opt = {4573, 5000, 256, 4096, 600, 3, 3, 15, 0};

/* ---- state --------------------------------------------------------------- */

/*
 * A call between its first pick and its end. Asterisk gives every channel
 * a uniqueid that stays the same through the dialplan, so it ties the
 * picks and reports of one call together; the attempt context remembers
 * the trunks the call has tried. The table is allocated once, at start.
 */
struct call {
    char uid[UID_MAX + 1];
    fo_attempt attempt;
    fo_plan_id plan;        /* the list it picks from */
    uint32_t list_routes;   /* trunks in its list */
    fo_route_id last_route; /* picked last; FO_ROUTE_ID_NONE before */
    int reported;           /* the result for last_route is in */
    int used;
    int32_t next; /* next in its hash chain, or in the free list */
    uint64_t touched_ns;
};

enum conn_state {
    CONN_FREE,
    CONN_ENV,   /* reading the agi_* environment */
    CONN_TALK,  /* sending commands, reading replies */
    CONN_DRAIN, /* done and write side shut: wait for Asterisk to close */
};

enum request { REQ_NONE, REQ_PICK, REQ_REPORT, REQ_UNKNOWN };

enum step {
    STEP_CLEAR_DIALSTATUS,
    STEP_SET_TRUNK,
    STEP_SET_STATUS,
    STEP_GET_DIALSTATUS,
    STEP_GET_CAUSE,
    STEP_SET_RETRY,
    STEP_VERBOSE,
};

struct conn {
    enum conn_state state;
    int fd;
    unsigned serial;
    uint64_t deadline_ns;
    char in[AGI_LINE_MAX]; /* the line being received */
    size_t in_len;
    char out[CMD_MAX]; /* the command being sent */
    size_t out_len, out_sent;
    /* the environment */
    unsigned env_lines, env_junk;
    int uid_too_long;
    char uid[UID_MAX + 1];
    char script[SCRIPT_MAX + 1];  /* agi_network_script */
    char request[SCRIPT_MAX + 1]; /* agi_request */
    char channel[CHANNEL_MAX + 1];
    /* the dialogue */
    enum request req;
    enum step steps[MAX_STEPS];
    int nsteps, istep;
    int awaiting;         /* a command is out, its reply is not in */
    int in_usage;         /* inside a multi-line "520-" reply */
    unsigned usage_lines; /* lines of it so far */
    int dead;             /* the channel hung up ("HANGUP" or 511) */
    fo_route_id picked;   /* pick: the trunk given to this call */
    int committed;        /* pick: FO_STATUS "OK" sent */
    int undone;           /* pick: taken back */
    const char *status;   /* pick: FO_STATUS */
    char trunk[FO_ROUTE_NAME_MAX + 1];
    char note[NOTE_MAX]; /* VERBOSE text */
    int have_dialstatus; /* report: what GET VARIABLE returned */
    char dialstatus[STATUS_MAX];
    int cause;         /* report: HANGUPCAUSE, -1 if unknown */
    const char *retry; /* report: FO_RETRY */
};

static fo_router *router;
static struct call *calls;
static int32_t *buckets;
static uint32_t nbuckets;
static int32_t free_calls = -1;
static struct conn *conns;
static unsigned nconns, next_serial;
static uint64_t start_ns;
static int wake_pipe[2] = {-1, -1};
static volatile sig_atomic_t stopping;

static struct {
    unsigned long accepted, picks, pick_ok, pick_noroute, pick_exhausted;
    unsigned long pick_error, taken_back, reports, retries, unmatched;
    unsigned long unknown, timed_out, broken, evicted_conns;
    unsigned long expired, evicted_calls, calls_open, calls_most;
} stats;

static void on_signal(int sig)
{
    int saved = errno;

    (void)sig;
    stopping = 1;
    /* Wakes poll() at once, whenever the signal arrives. */
    if (write(wake_pipe[1], "x", 1) < 0) {
        /* full: a wake-up is already pending */
    }
    errno = saved;
}

static uint64_t now_ns(void)
{
    return fo_clock_monotonic_ns();
}

static double seconds_since_start(uint64_t t)
{
    return t >= start_ns ? (double)(t - start_ns) / 1e9 : 0.0;
}

/* One line on stderr, stamped with the seconds since the start. */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%9.3f  %s\n", seconds_since_start(now_ns()), line);
}

/* Copies text from the peer for a log line: control characters would let
 * it forge lines of its own, so they become '?'. */
static const char *printable(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; src[i] != '\0' && i + 1 < size; i++) {
        unsigned char ch = (unsigned char)src[i];

        dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    dst[i] = '\0';
    return dst;
}

/* ---- the router's events ------------------------------------------------- */

/* fo_event_cb: every change of a trunk's state, with the router's reason.
 * Events are delivered on the thread whose call caused them, which here
 * is the only thread, so printing needs no lock. */
static void on_event(fo_router *r, const fo_event *ev, void *userdata)
{
    double t = seconds_since_start(ev->time_ns);

    (void)r;
    (void)userdata;
    switch (ev->kind) {
    case FO_EVENT_STATE:
        fprintf(stderr, "%9.3f  trunk %s %s -> %s (%s): %s\n", t,
                ev->route_name, fo_route_state_name(ev->old_state),
                fo_route_state_name(ev->new_state), fo_reason_name(ev->reason),
                ev->text);
        break;
    case FO_EVENT_UPDATE:
    case FO_EVENT_GUARD:
        fprintf(stderr, "%9.3f  trunk %s %s (%s): %s\n", t, ev->route_name,
                fo_route_state_name(ev->new_state), fo_reason_name(ev->reason),
                ev->text);
        break;
    case FO_EVENT_PANIC_STARTED:
    case FO_EVENT_PANIC_ENDED:
    case FO_EVENT_LOCAL_FAULT:
    case FO_EVENT_LOCAL_FAULT_ENDED:
    case FO_EVENT_DROPPED:
        fprintf(stderr, "%9.3f  router %s: %s\n", t,
                fo_event_kind_name(ev->kind), ev->text);
        break;
    default:
        break; /* routes added at start: the command line says it */
    }
}

/* ---- the calls ----------------------------------------------------------- */

static uint32_t hash_uid(const char *uid)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *uid != '\0'; uid++) {
        h ^= (unsigned char)*uid;
        h *= 16777619u;
    }
    return h & (nbuckets - 1);
}

static struct call *call_find(const char *uid)
{
    for (int32_t i = buckets[hash_uid(uid)]; i >= 0; i = calls[i].next)
        if (strcmp(calls[i].uid, uid) == 0)
            return &calls[i];
    return NULL;
}

static void call_free(struct call *c)
{
    int32_t idx = (int32_t)(c - calls), *link = &buckets[hash_uid(c->uid)];

    while (*link != idx)
        link = &calls[*link].next;
    *link = c->next;
    memset(c, 0, sizeof *c);
    c->next = free_calls;
    free_calls = idx;
    stats.calls_open--;
}

/* Forgets calls not heard of for --call-ttl: their dialplan ended without
 * a final report (no hangup handler, a crash, a lost connection). */
static void calls_expire(uint64_t now)
{
    uint64_t ttl = opt.call_ttl_s * SEC;
    unsigned long n = 0;

    for (unsigned long i = 0; i < opt.max_calls; i++) {
        if (calls[i].used && now - calls[i].touched_ns >= ttl) {
            call_free(&calls[i]);
            n++;
        }
    }
    if (n > 0)
        say("forgot %lu call%s not heard of for %lu s", n, n == 1 ? "" : "s",
            opt.call_ttl_s);
    stats.expired += n;
}

/* A new entry for uid. When the table is full, the call heard of least
 * recently gives up its place: it is the likeliest to have ended unseen,
 * and a new call must still get a trunk. */
static struct call *call_new(const char *uid, fo_plan_id plan,
                             uint32_t list_routes, uint64_t now)
{
    struct call *c;
    uint32_t h;

    if (free_calls < 0) {
        struct call *oldest = &calls[0];
        char uid_shown[UID_MAX + 1];

        for (unsigned long i = 1; i < opt.max_calls; i++)
            if (calls[i].touched_ns < oldest->touched_ns)
                oldest = &calls[i];
        say("call table full (%lu): forgetting %s, not heard of for %.1f s",
            opt.max_calls, printable(uid_shown, sizeof uid_shown, oldest->uid),
            (double)(now - oldest->touched_ns) / 1e9);
        call_free(oldest);
        stats.evicted_calls++;
    }
    c = &calls[free_calls];
    free_calls = c->next;
    memset(c, 0, sizeof *c);
    memcpy(c->uid, uid, strlen(uid) + 1);
    fo_attempt_init_plan(&c->attempt, plan);
    c->plan = plan;
    c->list_routes = list_routes;
    c->last_route = FO_ROUTE_ID_NONE;
    c->used = 1;
    c->touched_ns = now;
    h = hash_uid(uid);
    c->next = buckets[h];
    buckets[h] = (int32_t)(c - calls);
    if (++stats.calls_open > stats.calls_most)
        stats.calls_most = stats.calls_open;
    return c;
}

/* ---- what a Dial() came to ----------------------------------------------- */

/*
 * The result of one attempt from DIALSTATUS and HANGUPCAUSE, as Dial()
 * leaves them on the calling channel. Returns FO_EINVAL if DIALSTATUS does
 * not say (unset, empty, unknown).
 *
 * DIALSTATUS wins when it is specific: ANSWER, BUSY, NOANSWER, CANCEL,
 * DONTCALL, TORTURE, INVALIDARGS are what Dial() itself saw. HANGUPCAUSE
 * is no help there and can mislead: Dial() resets DIALSTATUS but not
 * HANGUPCAUSE, so after a retry it can still hold the previous trunk's
 * cause (a NOANSWER on trunk B with the 34 left by trunk A).
 *
 * CHANUNAVAIL and CONGESTION are Dial()'s catch-alls, and there the cause
 * decides. Dial() counts every hangup cause other than busy (17),
 * congestion (34), no answer (19) and normal clearing (16) as CHANUNAVAIL,
 * so a carrier's 404 arrives as CHANUNAVAIL with cause 1 (unallocated
 * number), and chan_sip reports 404, 480 and 5xx as CONGESTION with the
 * cause of the SIP response. Counting those as the trunk's fault would
 * take carriers out of service while a dialer works through a list of dead
 * numbers. So the cause is mapped as Q.850 (fo_result_from_q850), except
 * for what Asterisk says about the trunk itself:
 *
 *   3  no route to destination: the channel driver could not set the
 *      call up at all (PJSIP: endpoint unknown, no reachable contact);
 *   20 subscriber absent, Asterisk's AST_CAUSE_UNREGISTERED: the trunk
 *      is not registered or its qualify failed;
 *   18 no user responding: Asterisk's mapping of SIP 408, nearly always
 *      our own transaction timing out because the trunk never answered
 *      the INVITE.
 *
 * The first two are UNAVAILABLE and the last TIMEOUT, all route faults,
 * where plain Q.850 would blame the callee. Cause 0 (none recorded) and
 * 16 (normal clearing, which contradicts a failure) leave the DIALSTATUS
 * result. So CHANUNAVAIL with 34 is CONGESTION (a route fault either way),
 * and CHANUNAVAIL with 1 is DECLINED: the carrier did its job.
 */
static int dial_outcome(const char *dialstatus, int cause, fo_result *out)
{
    fo_result status;

    if (dialstatus == NULL ||
        fo_result_from_dialstatus(dialstatus, &status) != FO_OK)
        return FO_EINVAL;
    *out = status;
    if (status != FO_RESULT_UNAVAILABLE && status != FO_RESULT_CONGESTION)
        return FO_OK;
    switch (cause) {
    case 3:
    case 20:
        *out = FO_RESULT_UNAVAILABLE;
        break;
    case 18:
        *out = FO_RESULT_TIMEOUT;
        break;
    case 16:
        break;
    default:
        if (fo_result_from_q850(cause, out) != FO_OK) /* 0, unknown */
            *out = status;
        break;
    }
    return FO_OK;
}

/* ---- connections --------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    close(c->fd);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    nconns--;
}

/* The call's own name in log lines: its uniqueid, or the connection. */
static const char *who(const struct conn *c, char *buf, size_t size)
{
    if (c->uid[0] != '\0')
        return printable(buf, size, c->uid);
    snprintf(buf, size, "(no uniqueid)");
    return buf;
}

/*
 * Takes a pick back when the call will not dial it: the command that set
 * FO_TRUNK or FO_STATUS failed, the channel hung up, or Asterisk went
 * away before FO_STATUS was sent. The trunk is reported CANCELLED, which
 * counts for nothing but frees the trial slot a recovering trunk may have
 * given this call, and marks it tried. A call known to be over is
 * forgotten; otherwise a later report or the expiry ends it.
 */
static void pick_undo(struct conn *c, const char *why)
{
    struct call *call;
    char name[UID_MAX + 1];

    if (c->picked == FO_ROUTE_ID_NONE || c->undone)
        return;
    c->undone = 1;
    stats.taken_back++;
    call = call_find(c->uid);
    if (call != NULL && call->last_route == c->picked && !call->reported) {
        fo_report_result(router, c->picked, FO_RESULT_CANCELLED,
                         &call->attempt);
        call->reported = 1;
        if (c->dead)
            call_free(call);
    }
    say("#%u pick %s: %s taken back, %s", c->serial, who(c, name, sizeof name),
        c->trunk, why);
}

/* Ends a connection that broke the protocol, timed out or went away. */
static void conn_abort(struct conn *c, const char *why)
{
    char name[UID_MAX + 1];

    say("#%u %s: %s", c->serial, who(c, name, sizeof name), why);
    stats.broken++;
    if (c->req == REQ_PICK && !c->committed)
        pick_undo(c, why);
    conn_close(c);
}

/* Our part is done: shut the write side so Asterisk reads the end of the
 * script, and read until it closes its side. Closing with its "HANGUP"
 * unread would reset the connection instead. */
static void conn_finish(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_DRAIN;
    c->awaiting = 0;
    c->in_len = 0;
    c->deadline_ns = now_ns() + LINGER_NS;
}

/* Sends what is left of the command; 0, or -1 if the connection closed. */
static int conn_flush(struct conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                         MSG_NOSIGNAL);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0; /* poll() says when to go on */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            conn_abort(c, "sending failed");
            return -1;
        }
        c->out_sent += (size_t)n;
    }
    /* All of FO_STATUS "OK" is on its way: from here on the dialplan may
     * dial the trunk, so a connection that breaks now no longer takes the
     * pick back (Asterisk has most likely run the command). */
    if (c->state == CONN_TALK && c->istep < c->nsteps &&
        c->steps[c->istep] == STEP_SET_STATUS && c->picked != FO_ROUTE_ID_NONE)
        c->committed = 1;
    return 0;
}

/* Writes value as an AGI argument in double quotes. res_agi.c splits
 * commands at blanks outside quotes and takes a backslash as escaping the
 * next character, so quotes and backslashes are escaped; a newline would
 * end the command, so control characters become '?'. */
static void agi_quote(char *dst, size_t size, const char *value)
{
    size_t n = 0;

    for (; *value != '\0' && n + 3 < size; value++) {
        unsigned char ch = (unsigned char)*value;

        if (ch == '"' || ch == '\\')
            dst[n++] = '\\';
        dst[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    dst[n] = '\0';
}

/* Sends the current step's command; -1 if the connection closed. */
static int send_step(struct conn *c)
{
    char quoted[2 * NOTE_MAX];
    int n = -1;

    switch (c->steps[c->istep]) {
    case STEP_CLEAR_DIALSTATUS:
        n = snprintf(c->out, sizeof c->out, "SET VARIABLE DIALSTATUS \"\"\n");
        break;
    case STEP_SET_TRUNK:
        agi_quote(quoted, sizeof quoted, c->trunk);
        n = snprintf(c->out, sizeof c->out, "SET VARIABLE FO_TRUNK \"%s\"\n",
                     quoted);
        break;
    case STEP_SET_STATUS:
        n = snprintf(c->out, sizeof c->out, "SET VARIABLE FO_STATUS \"%s\"\n",
                     c->status);
        break;
    case STEP_GET_DIALSTATUS:
        n = snprintf(c->out, sizeof c->out, "GET VARIABLE DIALSTATUS\n");
        break;
    case STEP_GET_CAUSE:
        n = snprintf(c->out, sizeof c->out, "GET VARIABLE HANGUPCAUSE\n");
        break;
    case STEP_SET_RETRY:
        n = snprintf(c->out, sizeof c->out, "SET VARIABLE FO_RETRY \"%s\"\n",
                     c->retry);
        break;
    case STEP_VERBOSE:
        agi_quote(quoted, sizeof quoted, c->note);
        n = snprintf(c->out, sizeof c->out, "VERBOSE \"%s\" 1\n", quoted);
        break;
    }
    if (n < 0 || (size_t)n >= sizeof c->out) {
        conn_abort(c, "command too long");
        return -1;
    }
    c->out_len = (size_t)n;
    c->out_sent = 0;
    c->awaiting = 1;
    c->deadline_ns = now_ns() + opt.timeout_ms * MS;
    return conn_flush(c);
}

/* Sends the next command, or ends the dialogue after the last one. */
static int next_step(struct conn *c)
{
    if (c->istep < c->nsteps)
        return send_step(c);
    conn_finish(c);
    return -1;
}

static void add_step(struct conn *c, enum step step)
{
    if (c->nsteps < MAX_STEPS)
        c->steps[c->nsteps++] = step;
}

/* ---- the scripts --------------------------------------------------------- */

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of a query value into out; -1 if malformed, too
 * long, or decoding to a control character. */
static int url_decode(const char *s, size_t len, char *out, size_t size)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned ch = (unsigned char)s[i];

        if (ch == '%') {
            int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return -1;
            ch = (unsigned)(hi * 16 + lo);
            i += 2;
        }
        if (ch < 0x20 || ch == 0x7f || n + 1 >= size)
            return -1;
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return 0;
}

/* The value of key in a query string ("plan=uk&x=1"): 1 if found and
 * decoded, 0 if absent, -1 if malformed. */
static int query_value(const char *query, const char *key, char *out,
                       size_t size)
{
    size_t klen = strlen(key);

    while (query != NULL && *query != '\0') {
        const char *amp = strchr(query, '&');
        size_t len = amp != NULL ? (size_t)(amp - query) : strlen(query);

        if (len > klen && memcmp(query, key, klen) == 0 && query[klen] == '=')
            return url_decode(query + klen + 1, len - klen - 1, out, size) == 0
                       ? 1
                       : -1;
        query = amp != NULL ? amp + 1 : NULL;
    }
    return 0;
}

/* Starts the dialogue that ends a pick which gives no trunk. */
static void pick_refuse(struct conn *c, const char *status, const char *note)
{
    c->status = status;
    c->trunk[0] = '\0';
    add_step(c, STEP_SET_TRUNK); /* not the previous attempt's trunk */
    add_step(c, STEP_SET_STATUS);
    if (note != NULL) {
        snprintf(c->note, sizeof c->note, "fastagi_router: %.200s", note);
        add_step(c, STEP_VERBOSE);
    }
}

/* pick: chooses the trunk and queues the commands that say so. */
static void start_pick(struct conn *c, const char *query)
{
    char plan_name[FO_ROUTE_NAME_MAX + 1], name[UID_MAX + 1], note[NOTE_MAX];
    fo_plan_id plan = FO_PLAN_ID_NONE;
    uint32_t list_routes = (uint32_t)ntrunks;
    fo_pick pick = FO_PICK_INIT;
    struct call *call;
    uint64_t now = now_ns();
    int rc, found;

    stats.picks++;
    found = query_value(query, "plan", plan_name, sizeof plan_name);
    if (found == 0)
        snprintf(plan_name, sizeof plan_name, "(all)");
    if (found < 0 || (found > 0 && plan_name[0] == '\0')) {
        stats.pick_error++;
        say("#%u pick %s: malformed plan", c->serial,
            who(c, name, sizeof name));
        pick_refuse(c, "ERROR", "malformed plan in the request");
        return;
    }
    if (found > 0) {
        int i;

        for (i = 0; i < nplans && strcmp(plans[i].name, plan_name) != 0; i++)
            ;
        if (i == nplans) {
            stats.pick_error++;
            say("#%u pick %s: no plan %s", c->serial, who(c, name, sizeof name),
                printable(note, sizeof note, plan_name));
            snprintf(note, sizeof note, "no plan named %s", plan_name);
            pick_refuse(c, "ERROR", note);
            return;
        }
        plan = plans[i].id;
        list_routes = plans[i].routes;
    }
    if (c->uid[0] == '\0') {
        /* Without it no retry could move down the list, and no report
         * could find the trunk: refuse rather than route blind. */
        stats.pick_error++;
        say("#%u pick: %s", c->serial,
            c->uid_too_long ? "agi_uniqueid too long" : "no agi_uniqueid");
        pick_refuse(c, "ERROR", "no usable agi_uniqueid");
        return;
    }

    call = call_find(c->uid);
    if (call == NULL) {
        call = call_new(c->uid, plan, list_routes, now);
    } else if (call->last_route != FO_ROUTE_ID_NONE && !call->reported) {
        char last[FO_ROUTE_NAME_MAX + 1] = "?";

        fo_route_get_name(router, call->last_route, last, sizeof last);
        say("#%u pick %s: no report for %s, moving on", c->serial,
            who(c, name, sizeof name), last);
    }
    /* A retry keeps the plan the call started with: its attempt knows
     * which trunks of that list it has tried. */
    if (call->plan != plan)
        say("#%u pick %s: asked for plan %s, staying in the call's first",
            c->serial, who(c, name, sizeof name), plan_name);
    call->touched_ns = now;
    rc = fo_pick_route_ex(router, &call->attempt, &pick);
    if (rc == FO_OK)
        rc = fo_route_get_name(router, pick.route, c->trunk, sizeof c->trunk);
    if (rc != FO_OK) {
        const char *status = rc == FO_ENOROUTE ? "NOROUTE"
                             : rc == FO_ELIMIT ? "EXHAUSTED"
                                               : "ERROR";

        if (rc == FO_ENOROUTE)
            stats.pick_noroute++;
        else if (rc == FO_ELIMIT)
            stats.pick_exhausted++;
        else
            stats.pick_error++;
        say("#%u pick %s plan %s: %s after %zu trunk%s (%s)", c->serial,
            who(c, name, sizeof name), plan_name, status,
            fo_attempt_count(&call->attempt),
            fo_attempt_count(&call->attempt) == 1 ? "" : "s", fo_strerror(rc));
        call_free(call); /* nowhere left to send it */
        pick_refuse(c, status, NULL);
        return;
    }
    stats.pick_ok++;
    call->last_route = pick.route;
    call->reported = 0;
    c->picked = pick.route;
    c->status = "OK";
    say("#%u pick %s plan %s: %s, try %zu of %lu%s%s%s%s", c->serial,
        who(c, name, sizeof name), plan_name, c->trunk,
        fo_attempt_count(&call->attempt), opt.max_attempts,
        pick.flags & FO_PICK_TRIAL ? " (trial)" : "",
        pick.flags & FO_PICK_BACKUP ? " (backup)" : "",
        pick.flags & FO_PICK_GUARDED ? " (guarded)" : "",
        pick.flags & FO_PICK_PANIC ? " (panic: nothing in service)" : "");
    add_step(c, STEP_CLEAR_DIALSTATUS);
    add_step(c, STEP_SET_TRUNK);
    add_step(c, STEP_SET_STATUS);
}

/* report, once DIALSTATUS and HANGUPCAUSE are in: tells the router and
 * queues FO_RETRY. */
static void finish_report(struct conn *c)
{
    char name[UID_MAX + 1], trunk[FO_ROUTE_NAME_MAX + 1] = "?";
    char ds[STATUS_MAX], cause[16];
    struct call *call = call_find(c->uid);
    fo_result_class cls = FO_CLASS_NEUTRAL;
    fo_result result;
    int known, retry = 0, rc;
    size_t tried;

    c->retry = "0";
    if (!c->dead)
        add_step(c, STEP_SET_RETRY); /* a dead channel dials no more */
    if (call == NULL) {
        stats.unmatched++;
        say("#%u report %s: no pick known for this call", c->serial,
            who(c, name, sizeof name));
        return;
    }
    call->touched_ns = now_ns();
    if (call->last_route == FO_ROUTE_ID_NONE || call->reported) {
        /* No new trunk since the last report: no Dial() in between, so
         * the call is over (e.g. a hangup handler after the report). */
        say("#%u report %s: nothing new, call over", c->serial,
            who(c, name, sizeof name));
        call_free(call);
        return;
    }
    fo_route_get_name(router, call->last_route, trunk, sizeof trunk);
    known = dial_outcome(c->have_dialstatus ? c->dialstatus : NULL, c->cause,
                         &result) == FO_OK;
    if (!known)
        result = FO_RESULT_CANCELLED; /* no idea: count it for nothing */
    rc = fo_report_result(router, call->last_route, result, &call->attempt);
    call->reported = 1;
    stats.reports++;
    if (rc == FO_OK || rc == FO_EALREADY)
        fo_router_get_result_class(router, result, &cls);
    tried = fo_attempt_count(&call->attempt);
    retry = rc == FO_OK && cls == FO_CLASS_ROUTE_FAULT && !c->dead &&
            tried < opt.max_attempts && tried < call->list_routes;
    if (c->cause >= 0)
        snprintf(cause, sizeof cause, "%d", c->cause);
    else
        snprintf(cause, sizeof cause, "unknown");
    say("#%u report %s %s: DIALSTATUS %s, HANGUPCAUSE %s -> %s%s%s; %s",
        c->serial, who(c, name, sizeof name), trunk,
        c->have_dialstatus ? printable(ds, sizeof ds, c->dialstatus)
                           : "unknown",
        cause, fo_result_name(result),
        cls == FO_CLASS_ROUTE_FAULT ? " (route fault)" : "",
        rc == FO_OK ? "" : " not counted", retry ? "retry" : "call over");
    if (retry) {
        stats.retries++;
        c->retry = "1";
    } else {
        call_free(call);
    }
}

/* The environment is in: decide what the request is and start it. */
static void start_request(struct conn *c)
{
    const char *script = c->script, *query, *p;
    char path[64], name[UID_MAX + 1], shown[SCRIPT_MAX + 1];
    size_t len;

    /* agi_network_script is the part of the URL after the host; Asterisk
     * sends it only when there is one, so fall back to agi_request. */
    if (script[0] == '\0' && (p = strstr(c->request, "://")) != NULL &&
        (p = strchr(p + 3, '/')) != NULL)
        script = p + 1;
    while (*script == '/')
        script++;
    query = strchr(script, '?');
    len = query != NULL ? (size_t)(query - script) : strlen(script);
    if (len < sizeof path) {
        memcpy(path, script, len);
        path[len] = '\0';
    } else {
        path[0] = '\0';
    }
    c->state = CONN_TALK;
    c->cause = -1;
    c->picked = FO_ROUTE_ID_NONE;
    if (strcmp(path, "pick") == 0) {
        c->req = REQ_PICK;
        start_pick(c, query != NULL ? query + 1 : "");
    } else if (strcmp(path, "report") == 0) {
        c->req = REQ_REPORT;
        if (c->uid[0] == '\0') {
            stats.unmatched++;
            say("#%u report: %s", c->serial,
                c->uid_too_long ? "agi_uniqueid too long" : "no agi_uniqueid");
            c->retry = "0";
            snprintf(c->note, sizeof c->note,
                     "fastagi_router: no usable agi_uniqueid");
            add_step(c, STEP_SET_RETRY);
            add_step(c, STEP_VERBOSE);
        } else {
            add_step(c, STEP_GET_DIALSTATUS);
            add_step(c, STEP_GET_CAUSE);
        }
    } else {
        c->req = REQ_UNKNOWN;
        stats.unknown++;
        printable(shown, sizeof shown, script);
        say("#%u %s: no script \"%s\"%s", c->serial, who(c, name, sizeof name),
            shown, c->env_junk > 0 ? " (malformed environment)" : "");
        snprintf(c->note, sizeof c->note,
                 "fastagi_router: no script \"%.100s\"; use pick or report",
                 shown);
        add_step(c, STEP_VERBOSE);
    }
    next_step(c);
}

/* ---- reading ------------------------------------------------------------- */

/* Stores one "key: value" line of the environment. */
static void env_line(struct conn *c, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len), *value;
    size_t klen, vlen;

    if (colon == NULL || memchr(line, '\0', len) != NULL) {
        c->env_junk++; /* not ours to judge: skip it */
        return;
    }
    klen = (size_t)(colon - line);
    value = colon + 1;
    if (value < line + len && *value == ' ')
        value++;
    vlen = (size_t)(line + len - value);
#define ENV_KEY(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
    if (ENV_KEY("agi_uniqueid")) {
        c->uid_too_long = vlen > UID_MAX;
        vlen = c->uid_too_long ? 0 : vlen;
        memcpy(c->uid, value, vlen);
        c->uid[vlen] = '\0';
    } else if (ENV_KEY("agi_network_script") && vlen <= SCRIPT_MAX) {
        memcpy(c->script, value, vlen);
        c->script[vlen] = '\0';
    } else if (ENV_KEY("agi_request") && vlen <= SCRIPT_MAX) {
        memcpy(c->request, value, vlen);
        c->request[vlen] = '\0';
    } else if (ENV_KEY("agi_channel") && vlen <= CHANNEL_MAX) {
        memcpy(c->channel, value, vlen);
        c->channel[vlen] = '\0';
    }
#undef ENV_KEY
}

struct reply {
    int code;          /* 200, 510, 511, 520, ... */
    long result;       /* 200: the number after "result=" */
    const char *value; /* 200: the text in parentheses, or NULL */
    size_t value_len;
};

/* Parses "200 result=1 (value)", "510 Invalid or unknown command", ...;
 * -1 if the line is no reply. The value runs to the last ')' on the line,
 * since a variable's value may itself hold parentheses. */
static int parse_reply(const char *line, size_t len, struct reply *r)
{
    const char *p, *rparen;
    char digits[24];
    size_t n = 0;
    char *end;

    if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' ||
        line[1] > '9' || line[2] < '0' || line[2] > '9' ||
        (len > 3 && line[3] != ' '))
        return -1;
    r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    r->result = 0;
    r->value = NULL;
    r->value_len = 0;
    if (r->code != 200)
        return 0;
    if (len < 11 || memcmp(line + 3, " result=", 8) != 0)
        return -1;
    p = line + 11;
    while (p + n < line + len && n + 1 < sizeof digits &&
           (p[n] == '-' || (p[n] >= '0' && p[n] <= '9'))) {
        digits[n] = p[n];
        n++;
    }
    digits[n] = '\0';
    errno = 0;
    r->result = strtol(digits, &end, 10);
    if (n == 0 || *end != '\0' || errno != 0)
        return -1;
    p += n;
    if (p + 1 < line + len && p[0] == ' ' && p[1] == '(') {
        for (rparen = line + len - 1; rparen > p + 1 && *rparen != ')';
             rparen--)
            ;
        if (*rparen != ')')
            return -1;
        r->value = p + 2;
        r->value_len = (size_t)(rparen - r->value);
    }
    return 0;
}

/* What a reply means for the step it answers; then the next step. Returns
 * -1 once the connection no longer reads replies. */
static int on_reply(struct conn *c, const struct reply *r)
{
    enum step step = c->steps[c->istep];
    char name[UID_MAX + 1];
    int ok = r->code == 200;

    c->awaiting = 0;
    if (!ok)
        say("#%u %s: command refused with %d%s", c->serial,
            who(c, name, sizeof name), r->code,
            r->code == 511 ? " (the channel is dead)" : "");
    if (r->code == 511)
        c->dead = 1;
    switch (step) {
    case STEP_CLEAR_DIALSTATUS:
    case STEP_SET_TRUNK:
    case STEP_SET_STATUS:
        if (!ok && c->req == REQ_PICK) {
            /* The dialplan cannot rely on what it sees: it must not dial
             * this trunk, and FO_STATUS is not OK. */
            pick_undo(c, "a command was refused");
            conn_finish(c);
            return -1;
        }
        break;
    case STEP_GET_DIALSTATUS:
        if (ok && r->result == 1 && r->value != NULL &&
            r->value_len < sizeof c->dialstatus) {
            memcpy(c->dialstatus, r->value, r->value_len);
            c->dialstatus[r->value_len] = '\0';
            c->have_dialstatus = 1;
        }
        break;
    case STEP_GET_CAUSE:
        if (ok && r->result == 1 && r->value != NULL && r->value_len > 0 &&
            r->value_len < 4) {
            char digits[4];
            char *end;
            long v;

            memcpy(digits, r->value, r->value_len);
            digits[r->value_len] = '\0';
            v = strtol(digits, &end, 10);
            if (*end == '\0' && digits[0] >= '0' && digits[0] <= '9' &&
                v <= 127)
                c->cause = (int)v;
        }
        break;
    case STEP_SET_RETRY:
    case STEP_VERBOSE:
        break;
    }
    if (c->req == REQ_PICK && c->dead && !c->committed) {
        pick_undo(c, "the channel hung up");
        conn_finish(c);
        return -1;
    }
    c->istep++;
    if (step == STEP_GET_CAUSE)
        finish_report(c);
    return next_step(c);
}

/* One line from Asterisk, without its end of line. Returns -1 once the
 * connection no longer reads lines. */
static int on_line(struct conn *c, char *line, size_t len)
{
    struct reply r;
    char name[UID_MAX + 1];

    if (c->state == CONN_ENV) {
        if (len == 0) {
            start_request(c);
            return c->state == CONN_TALK ? 0 : -1;
        }
        if (++c->env_lines > ENV_LINES_MAX) {
            conn_abort(c, "environment too long");
            return -1;
        }
        env_line(c, line, len);
        return 0;
    }
    if (c->state != CONN_TALK)
        return 0; /* draining: nothing more matters */
    if (len == 6 && memcmp(line, "HANGUP", 6) == 0) {
        /* Asterisk's notice that the channel hung up: not a reply. The
         * dialogue goes on, since GET VARIABLE works on a dead channel. */
        if (!c->dead)
            say("#%u %s: the channel hung up", c->serial,
                who(c, name, sizeof name));
        c->dead = 1;
        return 0;
    }
    if (!c->awaiting) {
        conn_abort(c, "a line that answers nothing");
        return -1;
    }
    if (memchr(line, '\0', len) != NULL) {
        conn_abort(c, "a NUL byte in a reply");
        return -1;
    }
    if (c->in_usage) {
        /* "520-Invalid command syntax.  Proper usage follows:", the usage
         * text, then "520 End of proper usage." */
        if (len >= 4 && memcmp(line, "520 ", 4) == 0) {
            c->in_usage = 0;
            r.code = 520;
            r.result = 0;
            r.value = NULL;
            r.value_len = 0;
            return on_reply(c, &r);
        }
        if (++c->usage_lines > USAGE_LINES_MAX) {
            conn_abort(c, "a usage text that does not end");
            return -1;
        }
        return 0;
    }
    if (len >= 4 && memcmp(line, "520-", 4) == 0) {
        c->in_usage = 1;
        c->usage_lines = 0;
        return 0;
    }
    if (parse_reply(line, len, &r) != 0) {
        conn_abort(c, "not an AGI reply");
        return -1;
    }
    return on_reply(c, &r);
}

/* Reads what Asterisk sent and handles each complete line. */
static void conn_read(struct conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
    size_t start = 0, scanned = c->in_len; /* what is kept holds no '\n' */

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->state == CONN_DRAIN)
            conn_close(c); /* Asterisk closed its side: done */
        else if (c->state == CONN_ENV)
            conn_abort(c, c->in_len > 0 || c->env_lines > 0
                              ? "closed in the middle of its environment"
                              : "closed without a word");
        else
            conn_abort(c, "closed before the dialogue ended");
        return;
    }
    if (c->state == CONN_DRAIN) {
        c->in_len = 0; /* "HANGUP" and the like: nothing more matters */
        return;
    }
    c->in_len += (size_t)n;
    for (size_t i = scanned; i < c->in_len; i++) {
        size_t len;

        if (c->in[i] != '\n')
            continue;
        len = i - start;
        if (len > 0 && c->in[start + len - 1] == '\r')
            len--; /* tolerated, though Asterisk sends bare LF */
        if (on_line(c, c->in + start, len) != 0)
            return; /* closed, or no longer reading lines */
        start = i + 1;
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
    }
    if (c->in_len == sizeof c->in) {
        char why[64];

        snprintf(why, sizeof why, "a line longer than %d bytes",
                 AGI_LINE_MAX - 1);
        conn_abort(c, why);
    }
}

/* A connection past its deadline. */
static void conn_expire(struct conn *c)
{
    char why[80];

    if (c->state == CONN_DRAIN) {
        conn_close(c); /* Asterisk need not close first */
        return;
    }
    stats.timed_out++;
    snprintf(why, sizeof why, "no %s within %lu ms",
             c->state == CONN_ENV ? "environment" : "reply", opt.timeout_ms);
    conn_abort(c, why);
}

/* The slot for a new connection: a free one, else the one that has waited
 * longest for its environment; NULL if all are further on. */
static struct conn *free_slot(int evict)
{
    struct conn *oldest = NULL;

    for (unsigned long i = 0; i < opt.max_conns; i++) {
        struct conn *c = &conns[i];

        if (c->state == CONN_FREE)
            return c;
        if (c->state == CONN_ENV &&
            (oldest == NULL || c->deadline_ns < oldest->deadline_ns))
            oldest = c;
    }
    if (oldest != NULL && evict) {
        stats.evicted_conns++;
        conn_abort(oldest, "evicted: every slot taken, environment unsent");
    }
    return oldest;
}

static void accept_conns(int lfd)
{
    int evicted = 0;

    /* While connections wait and a slot can be had, but evicting at most
     * one per round, so a connection accepted a moment ago gets a poll()
     * to send its environment before a flood can push it out. */
    for (int i = 0; i < 64; i++) {
        struct conn *c = free_slot(0);
        int fd;

        if (c == NULL || (c->state != CONN_FREE && evicted))
            return;
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            return;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
            close(fd);
            continue;
        }
        evicted |= c->state != CONN_FREE;
        c = free_slot(1);
        c->fd = fd;
        c->state = CONN_ENV;
        c->serial = ++next_serial;
        c->deadline_ns = now_ns() + opt.timeout_ms * MS;
        nconns++;
        stats.accepted++;
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
        listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(addr.sin_port);
    return fd;
}

/* ---- setup --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: fastagi_router [--port N] [--timeout MS] [--max-conns N]\n"
            "       [--max-calls N] [--call-ttl S] [--max-attempts N]\n"
            "       [--faults N] [--hold-down S] [--duration S]\n"
            "       --trunk NAME[,priority=N][,weight=N][,cost=N][,plan=P]...\n"
            "       [--trunk ...]\n");
    exit(2);
}

static unsigned long number(const char *s, unsigned long min, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
        v > max)
        usage();
    return v;
}

static int valid_name(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > FO_ROUTE_NAME_MAX)
        return 0;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* "carrier-a,priority=1,weight=100,plan=outbound,plan=uk" */
static void parse_trunk(char *spec)
{
    struct trunk *t = &trunks[ntrunks];
    char *save = NULL, *tok = strtok_r(spec, ",", &save);

    if (ntrunks == MAX_TRUNKS || tok == NULL || !valid_name(tok)) {
        fprintf(stderr,
                "--trunk: a name of 1 to %u bytes first, at most %d "
                "trunks\n",
                FO_ROUTE_NAME_MAX, MAX_TRUNKS);
        usage();
    }
    memset(t, 0, sizeof *t);
    memcpy(t->name, tok, strlen(tok) + 1);
    t->priority = 1;
    t->weight = 1;
    while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
        char *eq = strchr(tok, '=');

        if (eq == NULL)
            usage();
        *eq++ = '\0';
        if (strcmp(tok, "priority") == 0) {
            t->priority = (uint32_t)number(eq, 0, UINT32_MAX);
        } else if (strcmp(tok, "weight") == 0) {
            t->weight = (uint32_t)number(eq, 0, FO_WEIGHT_MAX);
        } else if (strcmp(tok, "cost") == 0) {
            t->cost = (uint32_t)number(eq, 0, UINT32_MAX);
        } else if (strcmp(tok, "plan") == 0 && valid_name(eq)) {
            int p;

            for (p = 0; p < nplans && strcmp(plans[p].name, eq) != 0; p++)
                ;
            if (p == nplans) {
                if (nplans == MAX_PLANS) {
                    fprintf(stderr, "at most %d plans\n", MAX_PLANS);
                    usage();
                }
                memcpy(plans[nplans++].name, eq, strlen(eq) + 1);
            }
            if ((t->plans & (1ull << p)) == 0)
                plans[p].routes++;
            t->plans |= 1ull << p;
        } else {
            fprintf(stderr, "--trunk %s: unknown or bad '%s'\n", t->name, tok);
            usage();
        }
    }
    ntrunks++;
}

static void describe_trunk(const struct trunk *t)
{
    char in[256] = "";
    size_t n = 0;

    for (int p = 0; p < nplans && n < sizeof in; p++)
        if (t->plans & (1ull << p))
            n += (size_t)snprintf(in + n, sizeof in - n, "%s%s",
                                  n == 0 ? "; plans " : ", ", plans[p].name);
    say("trunk %s: priority %" PRIu32 ", weight %" PRIu32 ", cost %" PRIu32
        "%s",
        t->name, t->priority, t->weight, t->cost, in);
}

static int setup_router(void)
{
    fo_router_options o;
    int rc;

    FO_ROUTER_OPTIONS_INIT(&o);
    o.max_attempts = (uint32_t)opt.max_attempts;
    o.consecutive_faults = (uint32_t)opt.faults;
    o.hold_down_ns = opt.hold_down_s * SEC;
    if ((rc = fo_router_new(&router, &o)) != FO_OK) {
        fprintf(stderr, "fo_router_new: %s\n", fo_strerror(rc));
        return rc;
    }
    /* Before the routes, so that nothing the router says is missed. */
    if ((rc = fo_router_set_event_cb(router, on_event, NULL)) != FO_OK) {
        fprintf(stderr, "fo_router_set_event_cb: %s\n", fo_strerror(rc));
        return rc;
    }
    for (int p = 0; p < nplans; p++) {
        rc = fo_plan_new(router, plans[p].name, FO_POLICY_PRIORITY,
                         &plans[p].id);
        if (rc != FO_OK) {
            fprintf(stderr, "plan %s: %s\n", plans[p].name, fo_strerror(rc));
            return rc;
        }
    }
    for (int i = 0; i < ntrunks; i++) {
        struct trunk *t = &trunks[i];

        rc = fo_route_add(router, t->name, t->priority, t->weight, t->cost,
                          &t->id);
        for (int p = 0; rc == FO_OK && p < nplans; p++)
            if (t->plans & (1ull << p))
                rc = fo_plan_set_route(router, plans[p].id, t->id, t->priority,
                                       t->weight, t->cost);
        if (rc != FO_OK) {
            fprintf(stderr, "trunk %s: %s\n", t->name, fo_strerror(rc));
            return rc;
        }
    }
    return FO_OK;
}

/* The call table and the connection slots: allocated once, here. */
static int setup_tables(void)
{
    nbuckets = 1;
    while (nbuckets < opt.max_calls)
        nbuckets <<= 1;
    calls = calloc(opt.max_calls, sizeof *calls);
    buckets = malloc(nbuckets * sizeof *buckets);
    conns = calloc(opt.max_conns, sizeof *conns);
    if (calls == NULL || buckets == NULL || conns == NULL)
        return -1;
    for (uint32_t i = 0; i < nbuckets; i++)
        buckets[i] = -1;
    for (unsigned long i = opt.max_calls; i-- > 0;) {
        calls[i].next = free_calls;
        free_calls = (int32_t)i;
    }
    for (unsigned long i = 0; i < opt.max_conns; i++)
        conns[i].fd = -1;
    return 0;
}

static int setup_signals(void)
{
    struct sigaction sa;

    if (pipe(wake_pipe) != 0 || fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK) != 0)
        return -1;
    /* No SA_RESTART: the wake-up pipe ends poll() at once anyway. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    return 0;
}

static void summary(void)
{
    printf("after %.1f s: %lu connections; %lu picks (%lu OK, %lu NOROUTE, "
           "%lu EXHAUSTED, %lu ERROR, %lu taken back); %lu reports (%lu "
           "retried, %lu unmatched); %lu unknown scripts; %lu broken off "
           "(%lu timed out, %lu evicted); calls open %lu (most %lu), "
           "expired %lu, evicted %lu\n",
           seconds_since_start(now_ns()), stats.accepted, stats.picks,
           stats.pick_ok, stats.pick_noroute, stats.pick_exhausted,
           stats.pick_error, stats.taken_back, stats.reports, stats.retries,
           stats.unmatched, stats.unknown, stats.broken, stats.timed_out,
           stats.evicted_conns, stats.calls_open, stats.calls_most,
           stats.expired, stats.evicted_calls);
    fo_router_dump(router, stdout);
    fflush(stdout);
}

/* Milliseconds from now until t, rounded up, as a poll() timeout. */
static int ms_until(uint64_t now, uint64_t t)
{
    uint64_t ms = t <= now ? 0 : (t - now + MS - 1) / MS;

    return ms > 1000 ? 1000 : (int)ms;
}

/* ---- the loop ------------------------------------------------------------ */

static int serve(int lfd)
{
    struct pollfd *pfds = calloc(opt.max_conns + 2, sizeof *pfds);
    struct conn **polled = calloc(opt.max_conns + 2, sizeof *polled);
    uint64_t end_ns, grace_end = 0, next_sweep = now_ns() + SWEEP_NS;
    int status = 0;

    if (pfds == NULL || polled == NULL) {
        free(pfds);
        free(polled);
        return 1;
    }
    end_ns = opt.duration_s > 0 ? start_ns + opt.duration_s * SEC : UINT64_MAX;
    for (;;) {
        uint64_t now = now_ns();
        int wait = 1000, wait_router, npfd = 0, listener_at, rc;

        if (now >= end_ns)
            stopping = 1;
        if (stopping && lfd >= 0) {
            /* No new connections; those under way get a moment to end. */
            close(lfd);
            lfd = -1;
            grace_end = now + GRACE_NS;
        }
        if (stopping && (nconns == 0 || now >= grace_end))
            break;
        /* The router's time-driven work: hold-downs that end, trials. */
        if ((rc = fo_router_next_timeout_ms(router, &wait_router)) == FO_OK &&
            wait_router == 0 && (rc = fo_router_tick(router)) == FO_OK)
            rc = fo_router_next_timeout_ms(router, &wait_router);
        if (rc != FO_OK) {
            fprintf(stderr, "router: %s\n", fo_strerror(rc));
            status = 1;
            break;
        }
        if (wait_router >= 0 && wait_router < wait)
            wait = wait_router;
        if (now >= next_sweep) {
            calls_expire(now);
            next_sweep = now + SWEEP_NS;
        }
        if (ms_until(now, next_sweep) < wait)
            wait = ms_until(now, next_sweep);
        if (stopping && ms_until(now, grace_end) < wait)
            wait = ms_until(now, grace_end);

        pfds[npfd].fd = wake_pipe[0];
        pfds[npfd].events = POLLIN;
        polled[npfd++] = NULL;
        for (unsigned long i = 0; i < opt.max_conns; i++) {
            struct conn *c = &conns[i];

            if (c->state == CONN_FREE)
                continue;
            if (now >= c->deadline_ns) {
                conn_expire(c);
                continue;
            }
            if (ms_until(now, c->deadline_ns) < wait)
                wait = ms_until(now, c->deadline_ns);
            pfds[npfd].fd = c->fd;
            pfds[npfd].events = POLLIN;
            if (c->out_sent < c->out_len)
                pfds[npfd].events |= POLLOUT;
            polled[npfd++] = c;
        }
        /* While every slot is busy in a dialogue, new connections wait in
         * the backlog. */
        listener_at = -1;
        if (lfd >= 0 && free_slot(0) != NULL) {
            pfds[npfd].fd = lfd;
            pfds[npfd].events = POLLIN;
            listener_at = npfd;
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
            struct conn *c = polled[i];
            char sink[64];

            if (pfds[i].revents == 0)
                continue;
            if (i == listener_at) {
                accept_conns(lfd);
            } else if (c == NULL) {
                while (read(wake_pipe[0], sink, sizeof sink) > 0)
                    ;
            } else if (c->state != CONN_FREE && c->fd == pfds[i].fd) {
                /* (An fd reused within this round gets a spurious wake-up
                 * at most, which recv() answers with EAGAIN.) */
                if ((pfds[i].revents & POLLOUT) && conn_flush(c) != 0)
                    continue;
                if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
                    conn_read(c);
            }
        }
    }
    for (unsigned long i = 0; i < opt.max_conns; i++)
        if (conns[i].state != CONN_FREE)
            conn_abort(&conns[i], "shutting down");
    if (lfd >= 0)
        close(lfd);
    free(pfds);
    free(polled);
    return status;
}

int main(int argc, char **argv)
{
    unsigned bound;
    int lfd = -1, status;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (i + 1 >= argc)
            usage();
        if (strcmp(a, "--trunk") == 0)
            parse_trunk(argv[++i]);
        else if (strcmp(a, "--port") == 0)
            opt.port = number(argv[++i], 0, 65535);
        else if (strcmp(a, "--timeout") == 0)
            opt.timeout_ms = number(argv[++i], 1, 3600 * 1000ul);
        else if (strcmp(a, "--max-conns") == 0)
            opt.max_conns = number(argv[++i], 1, 4096);
        else if (strcmp(a, "--max-calls") == 0)
            opt.max_calls = number(argv[++i], 1, 100000);
        else if (strcmp(a, "--call-ttl") == 0)
            opt.call_ttl_s = number(argv[++i], 1, 7 * 24 * 3600ul);
        else if (strcmp(a, "--max-attempts") == 0)
            opt.max_attempts = number(argv[++i], 1, FO_ATTEMPT_MAX_ROUTES);
        else if (strcmp(a, "--faults") == 0)
            opt.faults = number(argv[++i], 1, FO_MAX_CONSECUTIVE_FAULTS);
        else if (strcmp(a, "--hold-down") == 0)
            opt.hold_down_s = number(argv[++i], 1, 7 * 24 * 3600ul);
        else if (strcmp(a, "--duration") == 0)
            opt.duration_s = number(argv[++i], 0, 365ul * 24 * 3600);
        else
            usage();
    }
    if (ntrunks == 0)
        usage();

    start_ns = now_ns();
    status =
        setup_signals() != 0 || setup_tables() != 0 || setup_router() != FO_OK;
    if (status == 0 && (lfd = open_listener((unsigned)opt.port, &bound)) < 0) {
        perror("listening on 127.0.0.1");
        status = 1;
    }
    if (status == 0) {
        printf("listening on agi://127.0.0.1:%u/\n", bound);
        fflush(stdout);
        for (int i = 0; i < ntrunks; i++)
            describe_trunk(&trunks[i]);
        status = serve(lfd);
        summary();
    }
    if (router != NULL && fo_router_free(router) != FO_OK)
        status = 1;
    free(calls);
    free(buckets);
    free(conns);
    if (wake_pipe[0] >= 0)
        close(wake_pipe[0]);
    if (wake_pipe[1] >= 0)
        close(wake_pipe[1]);
    return status;
}
