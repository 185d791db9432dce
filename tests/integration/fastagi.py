#!/usr/bin/env python3
"""Integration test: examples/fastagi_router spoken to as Asterisk would.

Starts the server on 127.0.0.1 with a port the kernel chooses and three
trunks, then plays Asterisk's part of FastAGI over plain sockets: the agi_*
environment block (agi_network, agi_network_script, agi_request,
agi_uniqueid, ... and an empty line), then a reply to every command the
way res_agi.c gives it ("200 result=1 (value)" for a variable that is set,
"200 result=0" for one that is not, "510 Invalid or unknown command" for
anything else), with the channel variables kept per call as a channel
keeps them across AGI() and Dial().

Checks: a pick gives the primary trunk; a report of DIALSTATUS CHANUNAVAIL
with HANGUPCAUSE 34 sets FO_RETRY=1 and the next pick of the same call
gives the next trunk; three such failures take the primary out of service
and new calls go to the backup; ANSWER and callee results end the call
(the next pick for that uniqueid starts afresh); a carrier's 404 (cause 1)
and a stale cause after NOANSWER are not the trunk's fault; NOROUTE,
EXHAUSTED and ERROR; then hostile peers: a truncated environment, garbage
lines, an oversized line, 510, 511 and multi-line 520 replies, HANGUP in
the middle of a dialogue, a client that connects and says nothing (dropped
after the timeout while others are served), 50 connections at once. The
server must still answer a normal pick afterwards, and exit 0 on SIGTERM
(sent to its own PID) with its summary.

Every wait is bounded; the only process started is the server, stopped by
its PID. FASTAGI_WRAPPER, if set, is a command to run the server under,
e.g. "valgrind --leak-check=full --error-exitcode=99".

Usage: fastagi.py FASTAGI_ROUTER
"""
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

from procs import read_line

TIMEOUT_MS = 1000  # the server's --timeout
WRAPPED = bool(os.environ.get("FASTAGI_WRAPPER"))
IO_LIMIT = 20.0 if WRAPPED else 5.0  # a reply from the server
TRUNKS = ("carrier-a", "carrier-b", "carrier-c")


class Failed(Exception):
    pass


def parse_args(command):
    """Splits an AGI command as res_agi.c's parse_args() does: blanks
    separate words outside double quotes; a backslash makes the next
    character literal."""
    argv, quoted, escaped, blank = [], False, False, True
    for ch in command:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and blank:
                argv.append("")
                blank = False
            continue
        if ch in " \t" and not quoted and not escaped:
            blank = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if blank:
            argv.append("")
            blank = False
        argv[-1] += ch
        escaped = False
    return argv


class Call:
    """One channel: its uniqueid and variables, across AGI() calls."""
    serial = 0

    def __init__(self, uid=None):
        Call.serial += 1
        self.uid = uid if uid is not None else f"1700000000.{Call.serial}"
        self.vars = {}
        self.cause = 0  # HANGUPCAUSE: built in, 0 until a cause is set
        self.verbose = []

    def dial(self, dialstatus, cause):
        """What Dial() leaves behind: DIALSTATUS, and HANGUPCAUSE only when
        the far end gave a cause (Dial() never resets it)."""
        self.vars["DIALSTATUS"] = dialstatus
        if cause is not None:
            self.cause = cause

    def answer(self, command):
        """Asterisk's reply to one command on a live channel."""
        argv = parse_args(command)
        words = [a.upper() for a in argv[:2]]
        if words == ["SET", "VARIABLE"] and len(argv) >= 3:
            if len(argv) >= 4:
                self.vars[argv[2]] = argv[3]
            return "200 result=1"
        if words == ["GET", "VARIABLE"]:
            if len(argv) != 3:
                return "520 Invalid command syntax.  Proper usage not " \
                    "available."
            if argv[2] == "HANGUPCAUSE":
                return f"200 result=1 ({self.cause})"
            value = self.vars.get(argv[2])
            return "200 result=0" if value is None else \
                f"200 result=1 ({value})"
        if words[:1] == ["VERBOSE"] and len(argv) >= 2:
            self.verbose.append(argv[1])
            return "200 result=1"
        return "510 Invalid or unknown command"


def environment(port, script, uid, extra=()):
    """The block Asterisk sends on connecting: launch_netscript()'s two
    lines, then setup_env()'s, then an empty line."""
    lines = ["agi_network: yes"]
    if script:
        lines.append(f"agi_network_script: {script}")
    lines += [f"agi_request: agi://127.0.0.1:{port}/{script}",
              "agi_channel: PJSIP/dialer-00000042",
              "agi_language: en",
              "agi_type: PJSIP"]
    if uid is not None:
        lines.append(f"agi_uniqueid: {uid}")
    lines += ["agi_version: 20.5.2",
              "agi_callerid: 2025550100",
              "agi_calleridname: Outbound",
              "agi_callingpres: 0",
              "agi_callingani2: 0",
              "agi_callington: 0",
              "agi_callingtns: 0",
              "agi_dnid: 15551230001",
              "agi_rdnis: unknown",
              "agi_context: fo-outbound",
              "agi_extension: 15551230001",
              "agi_priority: 3",
              "agi_enhanced: 0.0",
              "agi_accountcode: ",
              "agi_threadid: 140181239883520"]
    lines += list(extra)
    return ("\n".join(lines) + "\n\n").encode()


class Session:
    """One FastAGI connection, from Asterisk's side."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=IO_LIMIT)
        self.buf = b""
        self.commands = []

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self, limit=IO_LIMIT):
        """The server's next line; None when it has closed the connection."""
        end = time.monotonic() + limit
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise Failed(f"nothing from the server within {limit:.0f} s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def closed(self, limit):
        """True if the server closes the connection within `limit` seconds
        (whatever it sends first)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                if self.line(max(0.01, end - time.monotonic())) is None:
                    return True
            except Failed:
                return False
        return False

    def converse(self, call, hook=None, limit=IO_LIMIT):
        """Answers every command as Asterisk would until the server closes.
        hook(index, command) may return the raw text to send instead."""
        while True:
            command = self.line(limit)
            if command is None:
                return
            self.commands.append(command)
            raw = hook(len(self.commands) - 1, command) if hook else None
            if raw is None:
                raw = call.answer(command) + "\n"
            try:
                self.send(raw)
            except (BrokenPipeError, ConnectionResetError):
                return

    def close(self):
        self.sock.close()


def agi(port, call, script, hook=None, extra=()):
    """One AGI() application run on the call's channel."""
    s = Session(port)
    try:
        s.send(environment(port, script, call.uid, extra))
        s.converse(call, hook)
    finally:
        s.close()
    return s


def pick(port, call, plan="outbound"):
    call.vars.pop("FO_STATUS", None)  # the dialplan's Set(FO_STATUS=)
    agi(port, call, f"pick?plan={plan}" if plan else "pick")
    return call.vars.get("FO_STATUS"), call.vars.get("FO_TRUNK")


def report(port, call):
    call.vars.pop("FO_RETRY", None)
    agi(port, call, "report")
    return call.vars.get("FO_RETRY")


def run(server, proc_box, errlog):
    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)
        return ok

    wrapper = shlex.split(os.environ.get("FASTAGI_WRAPPER", ""))
    args = wrapper + [server, "--port", "0", "--timeout", str(TIMEOUT_MS),
                      "--max-attempts", "3", "--duration", "120",
                      "--trunk", "carrier-a,priority=1,plan=outbound",
                      "--trunk", "carrier-b,priority=2,plan=outbound",
                      "--trunk", "carrier-c,priority=3,plan=outbound,"
                      "plan=solo"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=errlog)
    proc_box.append(proc)
    line = read_line(proc, 60 if WRAPPED else 10)
    m = re.fullmatch(r"listening on agi://127\.0\.0\.1:(\d+)/", line or "")
    if not m:
        raise Failed(f"no listening line from the server (got {line!r})")
    port = int(m.group(1))
    print(f"server: {line}")

    # ---- picks, reports and retries -------------------------------------
    call = Call()
    call.vars["DIALSTATUS"] = "CHANUNAVAIL"  # left by an earlier Dial()
    status, trunk = pick(port, call)
    check(status == "OK" and trunk == "carrier-a",
          f"a pick sets FO_STATUS OK, FO_TRUNK the primary ({status}, "
          f"{trunk})")
    check(call.vars.get("DIALSTATUS") == "",
          "the pick clears DIALSTATUS for the Dial() that follows")
    call.dial("CHANUNAVAIL", 34)
    check(report(port, call) == "1",
          "CHANUNAVAIL with HANGUPCAUSE 34 sets FO_RETRY=1")
    status, trunk = pick(port, call)
    check(status == "OK" and trunk == "carrier-b",
          f"the retry of the same call gives the next trunk ({trunk})")
    call.dial("ANSWER", 16)
    check(report(port, call) == "0", "ANSWER sets FO_RETRY=0")
    check(report(port, call) == "0",
          "a second report (a hangup handler) ends the call quietly")

    for n in (2, 3):
        call = Call()
        status, trunk = pick(port, call)
        check(trunk == "carrier-a", f"call {n}: the primary ({trunk})")
        call.dial("CHANUNAVAIL", 34)
        retry = report(port, call)
        status, trunk = pick(port, call)
        call.dial("ANSWER", 16)
        report(port, call)
        check(retry == "1" and trunk == "carrier-b",
              f"call {n}: fails over to carrier-b ({retry}, {trunk})")
    call = Call()
    status, trunk = pick(port, call)
    check(status == "OK" and trunk == "carrier-b",
          f"after 3 failures the primary is out: a new call gets the "
          f"backup ({trunk})")
    call.dial("ANSWER", 16)
    report(port, call)
    status, trunk = pick(port, call)
    check(trunk == "carrier-b",
          f"ANSWER freed the attempt: the same uniqueid starts afresh "
          f"({trunk})")
    call.dial("BUSY", 17)
    check(report(port, call) == "0", "BUSY (the callee) sets FO_RETRY=0")
    status, trunk = pick(port, call)
    check(trunk == "carrier-b", f"BUSY freed the attempt too ({trunk})")
    call.dial("CHANUNAVAIL", 1)
    check(report(port, call) == "0",
          "CHANUNAVAIL with cause 1 (a carrier's 404) is no route fault")
    call = Call()
    pick(port, call)
    call.dial("CHANUNAVAIL", 34)
    report(port, call)
    status, trunk = pick(port, call)
    call.dial("NOANSWER", None)  # HANGUPCAUSE still 34 from carrier-b
    check(report(port, call) == "0",
          "NOANSWER wins over a stale HANGUPCAUSE 34: FO_RETRY=0")
    call = Call()
    pick(port, call)
    call.dial("CONGESTION", 3)
    check(report(port, call) == "1",
          "CONGESTION with cause 3 (trunk unreachable) sets FO_RETRY=1")
    report(port, call)  # ends it

    call = Call()
    check(report(port, call) == "0", "a report with no pick: FO_RETRY=0")

    call = Call()
    results = [pick(port, call)[0] for _ in range(4)]
    check(results == ["OK", "OK", "OK", "EXHAUSTED"],
          f"picks without reports: EXHAUSTED after 3 ({results})")
    call = Call()
    results = [pick(port, call, "solo") for _ in range(2)]
    check(results == [("OK", "carrier-c"), ("NOROUTE", "")],
          f"plan solo: carrier-c, then NOROUTE ({results})")
    call = Call()
    status, trunk = pick(port, call, "nowhere")
    check(status == "ERROR" and trunk == "" and
          any("nowhere" in v for v in call.verbose),
          f"an unknown plan: FO_STATUS ERROR and a VERBOSE ({status})")
    call = Call()
    call.uid = None
    status, _ = pick(port, call)
    check(status == "ERROR", f"no agi_uniqueid: FO_STATUS ERROR ({status})")
    call = Call()
    agi(port, call, "nothing-here?x=1")
    check(call.verbose and "FO_STATUS" not in call.vars,
          "an unknown script gets a VERBOSE and a clean close")

    # ---- hostile peers --------------------------------------------------
    s = Session(port)
    s.send(environment(port, "pick?plan=outbound", "1700000001.1")[:150])
    s.sock.shutdown(socket.SHUT_WR)
    check(s.closed(IO_LIMIT), "a truncated environment, then EOF: closed")
    s.close()

    s = Session(port)
    t0 = time.monotonic()
    s.send(environment(port, "pick?plan=outbound", "1700000001.2")[:150])
    closed = s.closed(TIMEOUT_MS / 1000 + IO_LIMIT)
    check(closed and time.monotonic() - t0 >= TIMEOUT_MS / 1000 * 0.9,
          f"a truncated environment, then silence: dropped after the "
          f"timeout ({time.monotonic() - t0:.1f} s)")
    s.close()

    call = Call()
    s = Session(port)
    s.send(b"\x00\x01\x02 binary\n;;;\nGET / HTTP/1.1\n\xff\xfe\n"
           b"no colon here\n\n")
    s.converse(call)
    s.close()
    check(call.verbose and not call.vars,
          "garbage instead of an environment: a VERBOSE, nothing set")

    call = Call()
    s = Session(port)
    s.send(environment(port, "pick?plan=outbound", call.uid))
    s.line()  # its first command
    s.send("what is this\n")
    check(s.closed(IO_LIMIT) and call.vars.get("FO_STATUS") != "OK",
          "a garbage reply ends the dialogue")
    s.close()

    s = Session(port)
    s.send(b"agi_network: yes\nagi_network_script: pick\nagi_callerid: " +
           b"9" * 10000 + b"\n\n")
    check(s.closed(IO_LIMIT), "an oversized line: the connection is closed")
    s.close()

    for code in ("510 Invalid or unknown command",
                 "511 Command Not Permitted on a dead channel"):
        call = Call()
        agi(port, call, "pick?plan=outbound",
            hook=lambda i, cmd: code + "\n" if i == 0 else None)
        check(call.vars.get("FO_STATUS") != "OK",
              f"'{code[:3]}' to a pick's command: no FO_STATUS OK")

    call = Call()
    pick(port, call)
    call.dial("CHANUNAVAIL", 34)
    s = agi(port, call, "report",
            hook=lambda i, cmd: "511 Command Not Permitted on a dead "
            "channel\n" if cmd.startswith("GET") else None)
    check("FO_RETRY" not in call.vars and len(s.commands) == 2,
          f"511 to GET VARIABLE: a dead channel, no FO_RETRY "
          f"({s.commands})")

    call = Call()
    pick(port, call)
    call.dial("CHANUNAVAIL", 34)
    usage = ("520-Invalid command syntax.  Proper usage follows:\n"
             " Usage: GET VARIABLE <variablename>\n"
             "   Returns 0 if <variablename> is not set.\n"
             "520 End of proper usage.\n")
    agi(port, call, "report",
        hook=lambda i, cmd: usage if cmd.startswith("GET VARIABLE DIAL")
        else None)
    check(call.vars.get("FO_RETRY") == "0",
          "a multi-line 520 reply: outcome unknown, FO_RETRY=0")

    call = Call()
    agi(port, call, "pick?plan=outbound",
        hook=lambda i, cmd: "HANGUP\n200 result=1\n" if i == 0 else None)
    check(call.vars.get("FO_STATUS") != "OK",
          "HANGUP during a pick: it is taken back, no FO_STATUS OK")
    call = Call()
    pick(port, call)
    call.dial("CHANUNAVAIL", 34)
    agi(port, call, "report",
        hook=lambda i, cmd: "HANGUP\n" + call.answer(cmd) + "\n"
        if i == 0 else None)
    check("FO_RETRY" not in call.vars,
          "HANGUP during a report: reported, but no retry on a dead channel")

    silent = Session(port)
    t0 = time.monotonic()
    call = Call()
    status, trunk = pick(port, call)
    took = time.monotonic() - t0
    check(status == "OK" and took < (IO_LIMIT if WRAPPED else 0.5),
          f"a pick is served while a client says nothing ({took:.3f} s)")
    call.dial("ANSWER", 16)
    report(port, call)
    closed = silent.closed(TIMEOUT_MS / 1000 + IO_LIMIT)
    took = time.monotonic() - t0
    check(closed and took >= TIMEOUT_MS / 1000 * 0.9,
          f"the silent client is dropped after the timeout ({took:.1f} s)")
    silent.close()

    many = [(Call(), Session(port)) for _ in range(50)]
    for call, s in many:
        s.send(environment(port, "pick?plan=outbound", call.uid))
    for call, s in many:
        s.converse(call)
        s.close()
    statuses = {call.vars.get("FO_STATUS") for call, _ in many}
    check(statuses == {"OK"},
          f"50 connections at once: every pick served ({statuses})")
    for call, _ in many:
        call.dial("ANSWER", 16)
        report(port, call)

    call = Call()
    status, trunk = pick(port, call)
    check(status == "OK" and trunk in TRUNKS,
          f"a normal pick after all that ({status}, {trunk})")
    call.dial("ANSWER", 16)
    report(port, call)
    check(proc.poll() is None, "the server is still running")

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30 if WRAPPED else 5)
    except subprocess.TimeoutExpired:
        raise Failed("the server did not exit within 5 s of SIGTERM") \
            from None
    summary = proc.stdout.read().decode(errors="replace").strip()
    print("server: " + summary.replace("\n", "\nserver: "))
    check(code == 0, f"the server exits 0 on SIGTERM (got {code})")
    check(summary.startswith("after "), "the server prints its summary")
    errlog.seek(0)
    log = errlog.read().decode(errors="replace")
    check(re.search(r"trunk carrier-a UP -> EJECTED", log) is not None,
          "the event callback logged carrier-a's ejection")
    return failures


def main():
    if len(sys.argv) != 2:
        print("usage: fastagi.py FASTAGI_ROUTER", file=sys.stderr)
        return 2
    proc_box = []
    with tempfile.TemporaryFile() as errlog:
        try:
            failures = run(sys.argv[1], proc_box, errlog)
        except (Failed, OSError) as e:
            print(f"FAILED: {e}")
            failures = [str(e)]
        finally:
            for proc in proc_box:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=5)
                proc.stdout.close()
            errlog.seek(0)
            for line in errlog.read().decode(errors="replace").splitlines():
                print(f"server stderr: {line}")
    print(f"fastagi: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
