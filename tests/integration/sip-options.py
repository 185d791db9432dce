#!/usr/bin/env python3
"""Integration test: examples/sip_options_probe against real SIP peers.

Starts three sipp UAS "carriers" on 127.0.0.1 (two answer OPTIONS with 200,
one with 503), runs the example against them, kills carrier-a by its PID
and checks it is ejected within fall x interval + timeout (+ one interval
of slack), restarts it and checks it is back within rise x interval (+ one
interval of slack); checks the 503 carrier is taken out by the example's
"down" list and carrier-b never moves. Everything runs on loopback, every
wait is bounded, every process started is stopped by its PID.

Usage: sip-options.py EXAMPLE SCENARIO_DIR SIPP
"""
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from procs import stop

INTERVAL, TIMEOUT, DOWN_INTERVAL, FALL, RISE = 0.5, 0.3, 0.25, 2, 2
SIPP_LIFE_S = 90  # every sipp quits by itself after this, whatever happens


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Run:
    def __init__(self, example, scenarios, sipp):
        self.example, self.scenarios, self.sipp = example, scenarios, sipp
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="fo-sip-")
        self.buf = b""
        self.lines = []  # (monotonic time, line)

    def start_sipp(self, port, scenario):
        p = subprocess.Popen(
            [self.sipp, "-sf", os.path.join(self.scenarios, scenario),
             "-i", "127.0.0.1", "-p", str(port), "-nostdin",
             "-timeout", f"{SIPP_LIFE_S}s"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.tmp)
        self.procs.append(p)
        return p

    @staticmethod
    def wait_answering(port, expect, limit=10.0):
        """Sends OPTIONS to 127.0.0.1:port until the expected answer."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        s.settimeout(0.1)
        end = time.monotonic() + limit
        n = 0
        try:
            while time.monotonic() < end:
                n += 1
                msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKready{n}\r\n"
                       "Max-Forwards: 70\r\n"
                       f"From: <sip:test@127.0.0.1:{me}>;tag=t{n}\r\n"
                       f"To: <sip:127.0.0.1:{port}>\r\n"
                       f"Call-ID: ready{n}-{port}@127.0.0.1\r\n"
                       f"CSeq: {n} OPTIONS\r\n"
                       "Content-Length: 0\r\n\r\n")
                s.sendto(msg.encode(), ("127.0.0.1", port))
                try:
                    data = s.recv(4096).decode(errors="replace")
                    if data.startswith(f"SIP/2.0 {expect}"):
                        return True
                except (socket.timeout, ConnectionRefusedError):
                    pass
        finally:
            s.close()
        return False

    def start_example(self, carriers):
        args = [self.example, "--interval", str(int(INTERVAL * 1000)),
                "--timeout", str(int(TIMEOUT * 1000)),
                "--down-interval", str(int(DOWN_INTERVAL * 1000)),
                "--fall", str(FALL), "--rise", str(RISE), "--no-jitter",
                "--down", "503", "--duration", "60"]
        args += [f"{name}=127.0.0.1:{port}" for name, port in carriers]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        self.example_proc = p
        return p

    def read_lines(self, limit):
        """Collects the example's output for up to `limit` seconds."""
        fd = self.example_proc.stdout.fileno()
        end = time.monotonic() + limit
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            now = time.monotonic()
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                text = line.decode(errors="replace")
                print("example:", text)
                self.lines.append((now, text))
            return

    def wait_line(self, needle, after, limit):
        """The first line containing needle seen at or after `after`."""
        end = time.monotonic() + limit
        while True:
            for t, text in self.lines:
                if t >= after and needle in text:
                    return t, text
            if time.monotonic() >= end:
                return None, None
            self.read_lines(end - time.monotonic())

    def stop_all(self):
        stop(self.procs)
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    example, scenarios, sipp = sys.argv[1:4]
    run = Run(example, scenarios, sipp)
    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)

    try:
        pa, pb, pc = free_udp_port(), free_udp_port(), free_udp_port()
        a = run.start_sipp(pa, "options-uas.xml")
        run.start_sipp(pb, "options-uas.xml")
        run.start_sipp(pc, "options-503.xml")
        for port, code in ((pa, "200"), (pb, "200"), (pc, "503")):
            check(run.wait_answering(port, code),
                  f"sipp on port {port} answers {code}")
        t0 = time.monotonic()
        run.start_example([("carrier-a", pa), ("carrier-b", pb),
                           ("carrier-c", pc)])
        t, _ = run.wait_line("probing", t0, 10)
        check(t is not None, "the example started")

        # The 503 carrier is out by the "down" list.
        t, line = run.wait_line("carrier-c UP -> EJECTED", t0, 10)
        check(t is not None and "REJECTED" in line,
              "a carrier answering 503 is taken out")

        # Both healthy carriers answer for a while.
        run.read_lines(4 * INTERVAL)

        # Kill carrier-a by its PID.
        a.terminate()
        a.wait(timeout=5)
        t_kill = time.monotonic()
        t, line = run.wait_line("carrier-a UP -> EJECTED", t_kill, 10)
        bound = FALL * INTERVAL + TIMEOUT + INTERVAL
        check(t is not None, "carrier-a is ejected after it died")
        if t is not None:
            check(t - t_kill <= bound,
                  f"ejected {t - t_kill:.3f} s after the kill (bound {bound:.3f} s)")

        # Bring it back on the same port.
        run.start_sipp(pa, "options-uas.xml")
        check(run.wait_answering(pa, "200"), "carrier-a restarted")
        t_back = time.monotonic()
        t, line = run.wait_line("carrier-a EJECTED -> UP", t_back, 10)
        bound = RISE * INTERVAL + INTERVAL
        check(t is not None, "carrier-a returns after it restarted")
        if t is not None:
            check(t - t_back <= bound,
                  f"back {t - t_back:.3f} s after the restart (bound {bound:.3f} s)")

        run.read_lines(2 * INTERVAL)
        check(not any("carrier-b" in text and "->" in text
                      for _, text in run.lines),
              "carrier-b stayed up throughout")
    finally:
        run.stop_all()
    print(f"sip-options: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
