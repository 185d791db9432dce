#!/usr/bin/env python3
"""Integration test: examples/sip_dialer placing calls through real SIP peers.

sipp UAS "carriers" on 127.0.0.1 (tests/integration/dialer-uas.xml) answer
INVITE with 100/180/200, take the ACK and the BYE, and answer OPTIONS. The
dialer places 5 calls/s with a 1 s dial timeout; four runs check what it
does with them, from its machine-readable record (--report-json):

1. outage: three carriers in priority order; the primary is killed by its
   PID mid-run and restarted later. No call fails; the primary is ejected
   within consecutive_faults x dial timeout (+ slack) of the kill; until it
   is back every call goes to the first backup, never the second; it is
   back within rise x down-interval + interval (+ slack) of the restart,
   and the last calls go to it again.
2. 503: the primary refuses every third INVITE with 503. Every refused call
   is carried by the backup; the failure-rate detector takes the primary
   out, and no call goes to it afterwards.
3. Retry-After: the same with "Retry-After: 3". The primary is out for the
   3 s it asked for (over a 1 s hold-down), and gets no call meanwhile.
4. late answers: the primary answers 1.5 s after the INVITE, after the
   dialer has moved the call on. Every late answer is ACKed and hung up
   (its BYE answered), each call is connected exactly once, on the backup.

Everything runs on loopback, every wait is bounded, every process started
is stopped by its PID.

Usage: sip-dialer.py DIALER SCENARIO_DIR SIPP
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from procs import stop

RATE, DIAL_TIMEOUT, CALL_LENGTH, INTERVAL = 5, 1.0, 1.0, 1.0
RISE, DOWN_SHARE = 2, 0.5  # probe defaults: answers to return; the interval
                           # while out, as a share of the one in service
SLACK = 0.5                # scheduling, and a call placed every 0.2 s
SIPP_LIFE_S = 60  # every sipp quits by itself after this, whatever happens
SCENARIO = "dialer-uas.xml"


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Run:
    """One dialer run against its own sipp carriers."""

    def __init__(self, name, dialer, scenarios, sipp):
        self.name, self.dialer, self.scenarios, self.sipp = (
            name, dialer, scenarios, sipp)
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="fo-dialer-")
        self.report = os.path.join(self.tmp, "report.jsonl")
        self.out = os.path.join(self.tmp, "dialer.out")
        self.records = []

    def start_sipp(self, port, *sets):
        args = [self.sipp, "-sf", os.path.join(self.scenarios, SCENARIO),
                "-i", "127.0.0.1", "-p", str(port), "-nostdin",
                "-timeout", f"{SIPP_LIFE_S}s"]
        for name, value in sets:
            args += ["-set", name, str(value)]
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, cwd=self.tmp)
        self.procs.append(p)
        return p

    @staticmethod
    def wait_answering(port, limit=15.0):
        """Sends OPTIONS to 127.0.0.1:port until it answers 200. Every
        OPTIONS has a Call-ID never used before: sipp keeps the Call-IDs of
        ended calls for a while and ignores new messages with them."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        s.settimeout(0.1)
        end = time.monotonic() + limit
        n, seen = 0, []
        try:
            while time.monotonic() < end:
                n += 1
                tag = f"{me}-{n}-{time.monotonic_ns()}"
                msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{tag}\r\n"
                       "Max-Forwards: 70\r\n"
                       f"From: <sip:test@127.0.0.1:{me}>;tag={n}\r\n"
                       f"To: <sip:127.0.0.1:{port}>\r\n"
                       f"Call-ID: ready-{tag}@127.0.0.1\r\n"
                       f"CSeq: {n} OPTIONS\r\n"
                       "Content-Length: 0\r\n\r\n")
                s.sendto(msg.encode(), ("127.0.0.1", port))
                try:
                    answer = s.recv(4096)
                    if answer.startswith(b"SIP/2.0 200"):
                        return True
                    seen.append(answer.split(b"\r\n")[0].decode(errors="replace"))
                except (socket.timeout, ConnectionRefusedError):
                    pass
        finally:
            s.close()
        print(f"no 200 from port {port} in {limit} s: {n} OPTIONS sent, "
              f"other answers {seen[-3:]}")
        return False

    def start_dialer(self, carriers, duration, extra=()):
        args = [self.dialer, "--to", "5551234", "--rate", str(RATE),
                "--duration", str(duration), "--call-length", str(CALL_LENGTH),
                "--dial-timeout", str(DIAL_TIMEOUT),
                "--options-interval", str(INTERVAL),
                "--report-json", self.report]
        args += list(extra)
        for name, port in carriers:
            args += ["--carrier", f"{name}=127.0.0.1:{port}"]
        with open(self.out, "wb") as out:
            self.dialer_proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        self.procs.append(self.dialer_proc)

    def finish_dialer(self, limit):
        """Waits for the dialer to end by itself; returns its exit code."""
        try:
            rc = self.dialer_proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            rc = None
        with open(self.out, errors="replace") as f:
            for line in f:
                print(f"{self.name}:", line.rstrip())
        if os.path.exists(self.report):
            with open(self.report) as f:
                self.records = [json.loads(line) for line in f]
        return rc

    def of_type(self, kind):
        return [r for r in self.records if r["type"] == kind]

    def start(self):
        """The dialer's start line: its options as it used them."""
        return self.of_type("start")[0]

    def summary(self):
        found = self.of_type("summary")
        return found[0] if found else None

    def state_events(self, route, new, after=0.0):
        return [e for e in self.of_type("event")
                if e["kind"] == "STATE" and e["route"] == route
                and e["new"] == new and e["t"] >= after]

    def stop_all(self):
        stop(self.procs)
        shutil.rmtree(self.tmp, ignore_errors=True)


class Checks:
    def __init__(self):
        self.failures = []

    def __call__(self, ok, what):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            self.failures.append(what)
        return ok


def common_checks(check, run, rc):
    """What every run must show: a clean exit and no call failed."""
    s = run.summary()
    check(rc == 0, f"{run.name}: the dialer exited with 0 (got {rc})")
    if not check(s is not None, f"{run.name}: the record has a summary"):
        return None
    calls = run.of_type("call")
    check(len(calls) == s["placed"] and s["not_placed"] == 0,
          f"{run.name}: every call placed is recorded ({len(calls)} of "
          f"{s['placed']})")
    check(s["failed"] == 0 and s["abandoned"] == 0,
          f"{run.name}: no call failed or was abandoned while a backup was up "
          f"(failed {s['failed']}, abandoned {s['abandoned']})")
    check(s["connected"] == s["placed"],
          f"{run.name}: every call was answered ({s['connected']} of "
          f"{s['placed']})")
    check(s["late_hung_up"] == s["late_answers"],
          f"{run.name}: every late answer was hung up "
          f"({s['late_hung_up']} of {s['late_answers']})")
    check(s["errors"] == 0 and s["bad_packets"] == 0,
          f"{run.name}: no internal error, no unreadable packet")
    return s


def run_outage(dialer, scenarios, sipp, check):
    """The primary dies and comes back."""
    run = Run("outage", dialer, scenarios, sipp)
    kill_after, restart_after, duration = 4.0, 10.0, 16
    try:
        pa, pb, pc = free_udp_port(), free_udp_port(), free_udp_port()
        a = run.start_sipp(pa)
        run.start_sipp(pb)
        run.start_sipp(pc)
        for port in (pa, pb, pc):
            check(run.wait_answering(port), f"outage: sipp on {port} answers")
        t0 = time.monotonic()
        run.start_dialer([("carrier-a", pa), ("carrier-b", pb),
                          ("carrier-c", pc)], duration)
        time.sleep(max(0.0, t0 + kill_after - time.monotonic()))
        a.terminate()
        a.wait(timeout=5)
        t_kill = time.monotonic()
        time.sleep(max(0.0, t0 + restart_after - time.monotonic()))
        t_restart = time.monotonic()
        run.start_sipp(pa)
        check(run.wait_answering(pa), "outage: carrier-a restarted")
        t_back = time.monotonic()
        rc = run.finish_dialer(duration + 20)
    finally:
        run.stop_all()

    s = common_checks(check, run, rc)
    if s is None:
        return
    opts = run.start()
    mono0 = opts["mono"]
    # The record's times are seconds since the dialer's start.
    kill_t, restart_t = t_kill - mono0, t_restart - mono0
    back_t = t_back - mono0
    calls = sorted(run.of_type("call"), key=lambda c: c["placed"])

    ejected = run.state_events("carrier-a", "EJECTED", after=kill_t)
    bound = opts["consecutive_faults"] * opts["dial_timeout"] + SLACK
    if check(bool(ejected), "outage: carrier-a was ejected after the kill"):
        t_ej = ejected[0]["t"]
        detect = t_ej - kill_t
        check(detect <= bound,
              f"outage: carrier-a ejected {detect:.3f} s after the kill "
              f"(bound {bound:.3f} s)")
        moved = [c for c in calls if c["placed"] >= kill_t
                 and c["carrier"] == "carrier-b"]
        if moved:
            print(f"measured: first call carried by the backup "
                  f"{moved[0]['ended'] - kill_t:.3f} s after the kill")
        # Until carrier-a is on trial again, calls go to carrier-b and
        # nowhere else.
        trial = [e for e in run.of_type("event")
                 if e["kind"] == "STATE" and e["route"] == "carrier-a"
                 and e["t"] > t_ej and e["new"] != "EJECTED"]
        t_out_end = trial[0]["t"] if trial else back_t
        during = [c for c in calls if t_ej < c["placed"] < t_out_end]
        check(bool(during) and all(c["attempts"][0]["carrier"] == "carrier-b"
                                   for c in during),
              f"outage: the {len(during)} calls placed while carrier-a was "
              f"out all went to carrier-b first")
    check(s["carriers"][2]["attempts"] == 0,
          "outage: carrier-c (the second backup) was never needed")

    up = run.state_events("carrier-a", "UP", after=restart_t)
    interval = opts["options_interval"]
    bound = RISE * interval * DOWN_SHARE + interval + SLACK
    if check(bool(up), "outage: carrier-a returned after its restart"):
        recover = up[0]["t"] - restart_t
        check(recover <= bound,
              f"outage: carrier-a back UP {recover:.3f} s after the restart "
              f"(bound {bound:.3f} s)")
    last = calls[-10:]
    check(len(last) == 10 and all(
        c["carrier"] == "carrier-a" and len(c["attempts"]) == 1
        for c in last),
        "outage: the last 10 calls went to carrier-a again")


def run_503(dialer, scenarios, sipp, check, retry_after):
    """The primary refuses every third INVITE with 503 (and Retry-After)."""
    name = "retry-after" if retry_after else "503"
    run = Run(name, dialer, scenarios, sipp)
    duration = 7
    sets = [("reject_503", 1)]
    extra = []
    if retry_after:
        sets.append(("retry_after", retry_after))
        extra = ["--hold-down", "1"]  # the carrier's word is longer
    try:
        pa, pb = free_udp_port(), free_udp_port()
        run.start_sipp(pa, *sets)
        run.start_sipp(pb)
        for port in (pa, pb):
            check(run.wait_answering(port), f"{name}: sipp on {port} answers")
        run.start_dialer([("carrier-a", pa), ("carrier-b", pb)], duration,
                         extra)
        rc = run.finish_dialer(duration + 20)
    finally:
        run.stop_all()

    s = common_checks(check, run, rc)
    if s is None:
        return
    calls = run.of_type("call")
    refused = [c for c in calls if c["attempts"][0]["status"] == 503]
    check(len(refused) >= 2 and all(
        len(c["attempts"]) == 2 and c["attempts"][0]["result"] == "REJECTED"
        and c["carrier"] == "carrier-b" for c in refused),
        f"{name}: each of the {len(refused)} calls refused with 503 was "
        f"carried by carrier-b")
    ejected = run.state_events("carrier-a", "EJECTED")
    want = "RETRY_AFTER" if retry_after else "FAILURE_RATE"
    if not check(bool(ejected) and ejected[0]["reason"] == want,
                 f"{name}: carrier-a ejected by {want}"):
        return
    t_ej = ejected[0]["t"]
    a_sent = [a["sent"] for c in calls for a in c["attempts"]
              if a["carrier"] == "carrier-a"]
    if retry_after:
        out_for = ejected[0]["until"] - t_ej
        check(out_for >= retry_after - 0.01,
              f"{name}: out for {out_for:.3f} s, at least the Retry-After "
              f"of {retry_after} s")
        for e in ejected:
            quiet = [t for t in a_sent if e["t"] < t < e["t"] + retry_after]
            check(not quiet, f"{name}: no INVITE to carrier-a in the "
                             f"{retry_after} s after {e['t']:.3f} s")
    else:
        after = [t for t in a_sent if t > t_ej]
        check(not after, f"{name}: no INVITE to carrier-a after its "
                         f"ejection at {t_ej:.3f} s")


def run_late(dialer, scenarios, sipp, check):
    """The primary answers after the dialer has given up on it."""
    run = Run("late", dialer, scenarios, sipp)
    duration = 4
    try:
        pa, pb = free_udp_port(), free_udp_port()
        run.start_sipp(pa, ("answer_delay", int(DIAL_TIMEOUT * 1000 + 500)))
        run.start_sipp(pb)
        for port in (pa, pb):
            check(run.wait_answering(port), f"late: sipp on {port} answers")
        run.start_dialer([("carrier-a", pa), ("carrier-b", pb)], duration)
        rc = run.finish_dialer(duration + 20)
    finally:
        run.stop_all()

    s = common_checks(check, run, rc)
    if s is None:
        return
    late = run.of_type("late")
    calls = {c["call"]: c for c in run.of_type("call")}
    check(s["late_answers"] >= 3 and len(late) == s["late_answers"],
          f"late: {s['late_answers']} late answers, each recorded")
    check(all(r["bye_status"] == 200 and r["carrier"] == "carrier-a"
              for r in late),
          "late: every late answer was ACKed and its BYE answered 200")
    check(all(r["call"] in calls and calls[r["call"]]["carrier"] == "carrier-b"
              for r in late),
          "late: every call answered late on carrier-a was carried by "
          "carrier-b")
    check(all(sum(a["result"] == "SUCCESS" for a in c["attempts"]) <= 1
              for c in calls.values()),
          "late: no call was connected twice")
    check(all(r["reported"] == "SUCCESS" for r in late),
          "late: every late answer was reported as a success for carrier-a")


def main():
    dialer, scenarios, sipp = sys.argv[1:4]
    check = Checks()
    started = time.monotonic()
    run_outage(dialer, scenarios, sipp, check)
    run_503(dialer, scenarios, sipp, check, retry_after=0)
    run_503(dialer, scenarios, sipp, check, retry_after=3)
    run_late(dialer, scenarios, sipp, check)
    print(f"sip-dialer: {len(check.failures)} failed "
          f"({time.monotonic() - started:.1f} s)")
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
