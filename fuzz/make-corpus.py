#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz target fuzz/api_sequence.c.

Each file is a program in the target's format (see the comment at the top
of api_sequence.c): a header choosing the router's options, then
operations, one code byte and their argument bytes each. The programs
play the situations the library exists for (an outage and its recovery,
a flapping carrier, probes, plans, panic, clock jumps, the operator's
states, Retry-After, overrides, observability, odd names, invalid
options, failed allocations, a local fault, slow calls, slow start and
trials), so the fuzzer starts from deep states instead of finding them
one byte at a time.

The constants below mirror the tables in api_sequence.c; change both
together. Usage: fuzz/make-corpus.py [DIRECTORY] (default fuzz/corpus).
"""

import os
import sys

# Operation codes (enum op).
(ADD, UPDATE, REMOVE, REPORT, PICK, HUNT, ATTEMPT, PLAN_NEW, PLAN_SET,
 PLAN_UNSET, PLAN_POLICY, PLAN_FREE, ADMIN, DRILL, SIGNAL, SET_PROBE, TICK,
 PROBE_DONE, CLOCK, PANIC, RESULT_CLASS, SIP_RESULT, REPORT_SIP, READ, DUMP,
 METRICS, EVENT_CB, LOG_CB, FAIL_ALLOC, DEADLINE) = range(30)

# Option fields (opt_fields[]) and the index of a value in their tables.
OPT = {name: i for i, name in enumerate([
    "max_routes", "max_attempts", "consecutive_faults",
    "hold_down_multiplier_pct", "hold_down_ns", "hold_down_max_ns",
    "hold_down_decay_ns", "hold_down_jitter_pct", "trial_successes",
    "trial_concurrency", "window_min_volume", "trial_timeout_ns",
    "window_ns", "failure_rate_pct", "slow_call_rate_pct", "slow_call_ns",
    "damping_penalty", "damping_suppress", "damping_reuse", "detectors_off",
    "damping_half_life_ns", "damping_max_suppress_ns", "retry_after_max_ns",
    "seed", "policy", "panic", "max_ejected_pct", "guards_off",
    "local_fault_window_ns", "slow_start_ns", "slow_start_floor_pct",
    "reserved"])}

# Route names (route_names[]); 26 and up give a fresh name.
CARRIER_A, CARRIER_B, CARRIER_C, TRUNK_1, TRUNK_2, GW, SHORT, SIP_URI = range(8)
U_UMLAUT, CJK, EMOJI, QUOTES, NBSP, MAX_CP, LONGEST, TOO_LONG = range(8, 16)
EMPTY, BAD_FF, TRUNCATED, OVERLONG, SURROGATE, C1, TAB, DEL = range(16, 24)
BEYOND, NEWLINE, FRESH = 24, 25, 26

# Results (result_table[]).
INVALID, SUCCESS, BUSY, NOANSWER, DECLINED, CANCELLED = range(6)
CONGESTION, UNAVAILABLE, TIMEOUT, REJECTED = range(6, 10)
INVALID_42 = 15

# Weights (weight_table[]).
W0, W1, W2, W5, W100, WMAX, WBAD = 0, 1, 3, 4, 5, 6, 7

# Clock steps (op_clock).
STEP = {"0": 0, "1ms": 1, "10ms": 2, "100ms": 3, "500ms": 4, "1s": 5,
        "2s": 6, "5s": 7, "10s": 8, "16s": 9, "30s": 10, "61s": 11,
        "2min": 12, "5min": 13, "10min": 14, "20min": 15, "1h": 16, "6h": 17,
        "1d": 18, "8d": 19, "40d": 20, "huge": 21, "-500ms": 22, "-1s": 23,
        "-2s": 24, "-10s": 25, "-1d": 26, "zero": 27}

# Latencies and Retry-After values (latency_table[], retry_table[]).
LAT = {"0": 0, "1ms": 1, "50ms": 2, "2s": 3, "10s": 4, "1h": 5, "max": 6}
RETRY = {"0": 0, "1s": 1, "30s": 2, "10min": 3, "2h": 4, "30d": 5, "max": 6}

# Drill durations (op_drill).
DRILL_DUR = {"end": 0, "1ms": 1, "1s": 2, "30s": 3, "10min": 4, "1d": 5,
             "too_long": 6, "max": 7}

# Probe options (probe_options()) and callback actions (on_probe()).
INTERVAL = {"default": 0, "10ms": 1, "100ms": 2, "1s": 3, "10s": 4, "1h": 5,
            "50ms": 6, "500ms": 7}
TIMEOUT_OF = {"default": 0, "1ms": 1, "500ms": 2, "5s": 3, "1h": 4,
              "100ms": 5, "2s": 6, "10ms": 7}
FALL = {"default": 0, 1: 1, 2: 2, 5: 3}
ANSWER_LATER, COMPLETE_AT_ONCE, CHECK_REFUSALS, REPLACE_SELF, REMOVE_ROUTE = (
    0, 4, 5, 6, 7)


def probe_a(interval="default", timeout="default"):
    return INTERVAL[interval] | (TIMEOUT_OF[timeout] << 3)


def probe_b(rise=0, fall="default", strong=False, no_jitter=False):
    return rise | (FALL[fall] << 2) | (0x10 if strong else 0) | (
        0x20 if no_jitter else 0)


def act(action, result=0):
    return action | (result << 3)


REG_LOST, REG_RESTORED, KA_LOST, KA_RESTORED = 1, 2, 3, 4
ENABLED, DRAINING, DISABLED, BAD_ADMIN = 0, 1, 2, 3
PRIORITY, WEIGHTED, LEAST_COST, BAD_POLICY = 0, 1, 2, 3
BEST_EFFORT, FAIL = 0, 1
DEFAULT_LIST = 0xFF
NO_ATTEMPT = 4

# SIP statuses (status_table[]).
SIP = {199: 0, 200: 1, 302: 2, 403: 3, 404: 4, 408: 5, 480: 6, 486: 7,
       487: 8, 500: 9, 503: 10, 603: 11, 699: 12, 700: 13}


class Program:
    """A program for the target, built operation by operation."""

    def __init__(self, options=(), size_mode=0, quiet=False):
        self.b = bytearray([len(options)])
        for field, value in options:
            self.b += bytes([OPT[field], value])
        self.b.append(size_mode | (0x10 if quiet else 0))

    def op(self, code, *args):
        self.b += bytes([code, *args])
        return self

    def add(self, name, priority=0, weight=W1, cost=0):
        return self.op(ADD, name, priority, weight, cost)

    def update(self, route, priority=0, weight=W1, cost=0):
        return self.op(UPDATE, route, priority, weight, cost)

    def remove(self, route):
        return self.op(REMOVE, route)

    def report(self, route, result, attempt=NO_ATTEMPT, ex=False,
               latency="0", retry="0", from_attempt=False, bad_flags=False):
        mode = attempt | (0x08 if ex or latency != "0" or retry != "0" else 0)
        mode |= 0x10 if from_attempt else 0
        mode |= 0xE0 if bad_flags else 0
        return self.op(REPORT, route, result, mode, LAT[latency], RETRY[retry])

    def pick(self, attempt=NO_ATTEMPT, ex=True, capacity=3, invalid=False):
        mode = attempt | (0x08 if ex else 0) | (capacity << 4)
        mode |= 0xC0 if invalid else 0
        return self.op(PICK, mode)

    def hunt(self, slot, results, plan=DEFAULT_LIST):
        return self.op(HUNT, slot, plan, len(results) - 1, *results)

    def attempt(self, slot, plan=DEFAULT_LIST):
        return self.op(ATTEMPT, slot, plan)

    def plan_new(self, name, policy=PRIORITY):
        return self.op(PLAN_NEW, name, policy)

    def plan_set(self, plan, route, priority=0, weight=W1, cost=0):
        return self.op(PLAN_SET, plan, route, priority, weight, cost)

    def plan_unset(self, plan, route):
        return self.op(PLAN_UNSET, plan, route)

    def plan_policy(self, plan, policy):
        return self.op(PLAN_POLICY, plan, policy)

    def plan_free(self, plan):
        return self.op(PLAN_FREE, plan)

    def admin(self, route, value):
        return self.op(ADMIN, route, value)

    def drill(self, route, duration):
        return self.op(DRILL, route, DRILL_DUR[duration])

    def signal(self, route, sig):
        return self.op(SIGNAL, route, sig)

    def set_probe(self, route, a=0, b=0, act=0, mode=0):
        return self.op(SET_PROBE, route, mode, a, b, act)

    def remove_probe(self, route):
        return self.op(SET_PROBE, route, 5, 0, 0, 0)

    def tick(self):
        return self.op(TICK)

    def probe_done(self, which, index, result):
        return self.op(PROBE_DONE, which, index, result)

    def clock(self, step):
        return self.op(CLOCK, STEP[step])

    def clock_ms(self, ms):
        return self.op(CLOCK, 28, ms & 0xFF, ms >> 8)

    def advance(self, step, ticks=1):
        """Moves the clock and lets the router's timers run."""
        self.clock(step)
        for _ in range(ticks):
            self.tick()
        return self

    def panic(self, value):
        return self.op(PANIC, value)

    def result_class(self, result, cls):
        return self.op(RESULT_CLASS, result, cls)

    def sip_result(self, status, result):
        return self.op(SIP_RESULT, SIP[status], result)

    def report_sip(self, route, status, flags=0):
        return self.op(REPORT_SIP, route, SIP[status], flags)

    def read(self, route, what, size=0):
        return self.op(READ, route, what, size)

    def dump(self):
        return self.op(DUMP)

    def metrics(self, size_choice, size16=0):
        if size_choice >= 7:
            return self.op(METRICS, size_choice, size16 & 0xFF, size16 >> 8)
        return self.op(METRICS, size_choice)

    def event_cb(self, on):
        return self.op(EVENT_CB, 1 if on else 0)

    def log_cb(self, level):
        return self.op(LOG_CB, level)

    def fail_alloc(self):
        return self.op(FAIL_ALLOC)

    def deadline(self):
        return self.op(DEADLINE)

    def observe(self):
        """Reads everything once: stats of each route, a dump, metrics."""
        for route in range(3):
            self.read(route, 4, 0)
        return self.dump().metrics(5).deadline()


def carriers(p, n=3):
    """carrier-a, -b and -c at priorities 0, 1 and 2."""
    for i in range(n):
        p.add(CARRIER_A + i, priority=i)
    return p


def outage_recovery():
    p = carriers(Program())
    for _ in range(6):
        p.hunt(0, [SUCCESS])
    # carrier-a times out: each call moves to carrier-b.
    for _ in range(4):
        p.hunt(0, [TIMEOUT, SUCCESS])
    p.observe()
    # Out for its hold-down, then trial calls bring it back.
    p.advance("16s")
    for _ in range(3):
        p.hunt(1, [SUCCESS])
    # It fails again in trial: out for longer.
    p.advance("16s").hunt(1, [TIMEOUT, SUCCESS])
    p.advance("30s").hunt(1, [SUCCESS]).hunt(1, [SUCCESS])
    return p.observe()


def flapping():
    p = Program(options=[("consecutive_faults", 1), ("hold_down_ns", 2),
                         ("damping_half_life_ns", 2)])
    carriers(p)
    for _ in range(4):
        p.report(0, TIMEOUT)
        p.advance("2s")
        p.hunt(0, [SUCCESS]).hunt(0, [SUCCESS])
    p.read(0, 4).pick().pick(attempt=1)
    p.advance("2min").advance("5min").advance("20min")
    return p.hunt(0, [SUCCESS]).observe()


def probes():
    p = carriers(Program())
    # carrier-a: every 100 ms, timeout 500 ms, out after one failure;
    # answered by the program. carrier-b answers at once; carrier-c fails
    # at once (strong evidence).
    p.set_probe(0, a=probe_a("100ms", "500ms"),
                b=probe_b(fall=1, no_jitter=True))
    p.set_probe(1, a=probe_a("100ms"), b=probe_b(rise=1),
                act=act(COMPLETE_AT_ONCE, SUCCESS))
    p.set_probe(2, a=probe_a("100ms"), b=probe_b(fall=1, strong=True),
                act=act(COMPLETE_AT_ONCE, TIMEOUT))
    for _ in range(3):
        p.advance("100ms")
        p.probe_done(0, 0, SUCCESS)      # carrier-a's token in flight
        p.probe_done(0, 0, SUCCESS)      # again: a duplicate
    p.advance("100ms").advance("1s")     # carrier-a's probe times out
    p.probe_done(5, 0, SUCCESS)          # late
    p.probe_done(5, 0, SUCCESS)          # late again: a stray
    p.probe_done(6, 1, SUCCESS)          # a token never issued
    p.probe_done(7, 0, SUCCESS)          # token 0
    p.probe_done(0, 0, INVALID)
    p.probe_done(0, 0, CANCELLED)
    p.set_probe(0, a=probe_a("100ms"), act=act(REPLACE_SELF))
    p.advance("100ms", ticks=2).advance("100ms")
    p.remove(1)                          # a removed route's probe
    p.probe_done(4, 3, SUCCESS)
    p.set_probe(2, mode=6, a=3)          # invalid options
    p.remove_probe(2)
    p.set_probe(0, a=probe_a("10ms"), act=act(CHECK_REFUSALS))
    p.advance("1s", ticks=2)
    p.set_probe(2, a=probe_a("10ms"), act=act(REMOVE_ROUTE))
    p.advance("1s", ticks=2)
    return p.observe()


def plans():
    p = carriers(Program())
    p.plan_new(0, LEAST_COST).plan_new(1, PRIORITY)
    p.plan_set(0, 0, cost=3).plan_set(0, 1, cost=1).plan_set(0, 2, weight=W0)
    p.plan_set(1, 2).plan_set(1, 0, priority=1)
    p.hunt(0, [SUCCESS], plan=0).hunt(1, [TIMEOUT, BUSY], plan=0)
    p.hunt(2, [CONGESTION, TIMEOUT, SUCCESS], plan=1)
    p.attempt(3, plan=0).pick(3).pick(3).pick(3).pick(3)
    p.plan_unset(0, 1).plan_unset(0, 1).plan_policy(0, WEIGHTED)
    p.plan_policy(DEFAULT_LIST, LEAST_COST).plan_policy(1, BAD_POLICY)
    p.read(0, 5, 0).read(0, 5, 6)
    p.attempt(3, plan=1).plan_free(1).pick(3).report(0, SUCCESS, attempt=3)
    p.plan_free(1).plan_new(7).plan_new(4).plan_new(5).plan_new(6)
    p.remove(0).hunt(0, [SUCCESS], plan=0)
    return p.observe()


def panic():
    p = Program(options=[("consecutive_faults", 1), ("guards_off", 3)])
    p.add(CARRIER_A).add(CARRIER_B, priority=1)
    p.report(0, TIMEOUT).report(1, UNAVAILABLE)
    p.pick().pick(attempt=0).pick(attempt=0).pick(attempt=0)
    p.panic(FAIL).pick().pick(ex=False).panic(2).panic(BEST_EFFORT)
    p.advance("16s").pick().pick().hunt(1, [SUCCESS])
    p.admin(0, DISABLED).drill(1, "30s").pick().hunt(2, [SUCCESS])
    p.drill(1, "end").admin(0, ENABLED)
    return p.hunt(2, [SUCCESS, SUCCESS]).observe()


def clock_jumps():
    p = carriers(Program(options=[("consecutive_faults", 1)]))
    p.report(0, TIMEOUT).drill(1, "1d")
    for step in ["1d", "40d", "-10s", "2s", "-500ms", "1s", "-1d", "8d",
                 "huge", "1s", "zero", "1h"]:
        p.clock(step).tick().hunt(0, [SUCCESS])
    p.clock_ms(1234).clock_ms(65535)
    return p.observe()


def operator_signals():
    p = carriers(Program())
    p.admin(0, DRAINING).hunt(0, [SUCCESS]).admin(0, DISABLED)
    p.hunt(0, [SUCCESS]).admin(0, BAD_ADMIN).admin(0, ENABLED)
    p.drill(1, "30s").hunt(0, [SUCCESS]).drill(1, "too_long")
    p.advance("30s").hunt(0, [SUCCESS])
    p.signal(0, REG_LOST).hunt(0, [SUCCESS]).signal(0, KA_LOST)
    p.advance("1h").signal(0, REG_RESTORED).hunt(0, [SUCCESS, SUCCESS])
    p.signal(1, KA_LOST).signal(1, KA_RESTORED).hunt(1, [SUCCESS])
    p.signal(2, 0).signal(2, 5).signal(0xF1, REG_LOST)
    p.admin(2, DISABLED).signal(2, REG_LOST).admin(2, ENABLED)
    return p.observe()


def retry_after():
    p = carriers(Program(options=[("hold_down_jitter_pct", 3)]))
    p.report(0, REJECTED, retry="30s")
    p.report(0, REJECTED, retry="2h")        # lengthens, capped
    p.advance("10min").advance("30s")
    p.hunt(0, [REJECTED, SUCCESS])
    p.report(0, CONGESTION, retry="max", latency="2s")
    p.report(1, SUCCESS, retry="1s")         # not a fault: nothing
    p.report(1, TIMEOUT, bad_flags=True)
    p.advance("20min").hunt(0, [SUCCESS, SUCCESS])
    return p.observe()


def overrides():
    p = carriers(Program())
    p.result_class(DECLINED, 4).result_class(INVALID, 1)
    p.result_class(BUSY, 0).result_class(BUSY, 5)
    for _ in range(3):
        p.report(0, DECLINED)
    p.sip_result(403, DECLINED).sip_result(199, SUCCESS)
    p.sip_result(503, INVALID_42)
    p.report_sip(1, 403).report_sip(1, 503, flags=2).report_sip(1, 408, 1)
    p.report_sip(1, 700).report_sip(1, 200, flags=4)
    p.sip_result(403, INVALID).report_sip(1, 403)
    p.result_class(DECLINED, 2)
    return p.hunt(0, [DECLINED]).observe()


def observability():
    p = carriers(Program())
    p.add(QUOTES, priority=1).add(CJK, priority=2)
    p.log_cb(4).hunt(0, [TIMEOUT] * 3).log_cb(2).event_cb(False)
    p.hunt(1, [TIMEOUT] * 3).log_cb(0).log_cb(5).event_cb(True)
    for size in range(12):
        p.metrics(size, size16=size * 997)
    for what in range(8):
        for size in (0, 1, 3, 9, 64, 200):
            p.read(what % 5, what, size)
    for size in range(16):                 # DIALSTATUS and Q.850 maps
        p.read(0, 6, size)
    return p.dump().observe()


def names():
    p = Program()
    for name in range(27):
        p.add(name, priority=name % 4, weight=name % 8)
        if name % 9 == 8:
            p.remove(0).remove(0)
    p.add(CARRIER_A).add(CARRIER_A).add(FRESH, weight=WBAD)
    for route in range(6):
        p.read(route, 3, 1).read(route, 2, 5).update(route, 2, W5, 1)
    p.update(0xF2, 0, W1).update(0, 0, WBAD).read(0xF3, 0)
    return p.observe()


def bad_options():
    # damping_reuse 5000 is not below suppress 2500: defaults instead.
    p = Program(options=[("damping_reuse", 5), ("max_attempts", 6),
                         ("window_ns", 5)])
    carriers(p).hunt(0, [TIMEOUT, TIMEOUT, TIMEOUT])
    return p.observe()


def small_limits():
    p = Program(options=[("max_routes", 2), ("max_attempts", 1),
                         ("trial_concurrency", 2), ("hold_down_max_ns", 1),
                         ("hold_down_ns", 2)], size_mode=13)
    carriers(p).hunt(0, [TIMEOUT, TIMEOUT]).pick(attempt=0)
    return p.remove(0).add(TRUNK_1).observe()


def alloc_failures():
    p = Program(quiet=True)
    p.fail_alloc().add(CARRIER_A).add(CARRIER_A).add(CARRIER_B)
    p.fail_alloc().event_cb(True).event_cb(True)
    p.fail_alloc().plan_new(0).plan_new(0)
    p.fail_alloc().plan_set(0, 0).plan_set(0, 0)
    p.fail_alloc().set_probe(0, a=1).set_probe(0, a=1)
    p.fail_alloc().dump().fail_alloc().metrics(5)
    p.fail_alloc().hunt(0, [SUCCESS]).fail_alloc().remove(1)
    p.fail_alloc().fail_alloc().tick()
    return p.observe()


def local_fault():
    p = carriers(Program(options=[("consecutive_faults", 2)]))
    for _ in range(2):
        p.hunt(0, [TIMEOUT, TIMEOUT, TIMEOUT])
        p.clock("1s")
    p.pick().pick(attempt=1).read(0, 4).read(1, 4)
    p.advance("10s").advance("1s")
    p.hunt(0, [TIMEOUT, SUCCESS])
    return p.observe()


def slow_calls():
    p = Program(options=[("slow_call_ns", 2), ("window_min_volume", 3),
                         ("slow_call_rate_pct", 2)])
    carriers(p)
    for _ in range(6):
        p.report(0, SUCCESS, latency="2s")
    p.report(0, SUCCESS, latency="1ms")
    return p.hunt(0, [SUCCESS]).observe()


def slow_start():
    p = Program(options=[("slow_start_ns", 2), ("consecutive_faults", 1),
                         ("slow_start_floor_pct", 2)])
    p.add(CARRIER_A).add(CARRIER_B).add(CARRIER_C, priority=1)
    p.report(0, TIMEOUT).advance("16s")
    for _ in range(4):
        p.hunt(0, [SUCCESS])
    for _ in range(6):
        p.clock("5s").hunt(0, [SUCCESS])
    return p.observe()


def trials():
    p = Program(options=[("trial_concurrency", 2), ("trial_timeout_ns", 2),
                         ("consecutive_faults", 1), ("trial_successes", 3)])
    carriers(p)
    p.attempt(3).pick(3)                   # placed before the outage
    p.report(0, TIMEOUT).advance("16s")
    p.attempt(0).pick(0).attempt(1).pick(1).attempt(2).pick(2)
    p.report(0, TIMEOUT, attempt=3)        # stale: counted, not judged
    p.report(0, SUCCESS, attempt=0).report(0, SUCCESS, attempt=0)
    p.advance("5s").pick(2).report(0, SUCCESS, attempt=1)
    p.report(0, SUCCESS).report(0, SUCCESS, attempt=2, from_attempt=True)
    return p.observe()


PROGRAMS = {
    "outage-recovery": outage_recovery,
    "flapping": flapping,
    "probes": probes,
    "plans": plans,
    "panic": panic,
    "clock-jumps": clock_jumps,
    "operator-signals": operator_signals,
    "retry-after": retry_after,
    "overrides": overrides,
    "observability": observability,
    "names": names,
    "bad-options": bad_options,
    "small-limits": small_limits,
    "alloc-failures": alloc_failures,
    "local-fault": local_fault,
    "slow-calls": slow_calls,
    "slow-start": slow_start,
    "trials": trials,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(out, exist_ok=True)
    for name, build in PROGRAMS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(build().b))
    print(f"{len(PROGRAMS)} programs written to {out}")


if __name__ == "__main__":
    main()
