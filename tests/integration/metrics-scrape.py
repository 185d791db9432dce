#!/usr/bin/env python3
"""Integration test: examples/metrics_http scraped with curl.

Starts the example on 127.0.0.1 with a port the kernel chooses, scrapes
/metrics for about six seconds and validates every body with promparse
(the strict 0.0.4 parser next to this script). Checks the families a
dashboard relies on, that each carrier is in exactly one state, that no
counter ever decreases, that carrier-b (broken from 2 s into the run) is
seen out of service or at least ejected, the Content-Type, the 404, 405 and
400 answers, and that a client that connects and says nothing does not hold
up a scrape. Then stops the example with SIGTERM and expects exit code 0.

Every wait is bounded; the only process started is the example, stopped by
its PID. Exits 77 (skipped) if curl is missing.

Usage: metrics-scrape.py EXAMPLE INTEGRATION_DIR CURL
"""
import os
import signal
import socket
import subprocess
import sys
import time

from procs import read_line

SCRAPE_FOR_S = 6.0
SCRAPE_EVERY_S = 0.5
CARRIERS = ("carrier-a", "carrier-b", "carrier-c")
FAMILIES = ("failover_route_state", "failover_route_results_total",
            "failover_route_picks_total", "failover_picks_total",
            "failover_routes")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Failed(Exception):
    pass


def curl(curl_path, args):
    """Runs curl; returns (exit code, stdout bytes)."""
    try:
        r = subprocess.run([curl_path, "-sS", "--max-time", "5"] + args,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           timeout=10)
    except subprocess.TimeoutExpired:
        return -1, b""
    return r.returncode, r.stdout


def scrape(curl_path, url):
    """GET url; returns (content type, body bytes) or raises Failed."""
    rc, out = curl(curl_path, ["-f", "-D", "-", url])
    if rc != 0:
        raise Failed(f"curl {url} exited with {rc}")
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        raise Failed("no end of headers in the response")
    ctype = None
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            ctype = value.strip()
    return ctype, body


def status_of(curl_path, url, *extra):
    rc, out = curl(curl_path, ["-o", os.devnull, "-w", "%{http_code}"]
                   + list(extra) + [url])
    return out.decode(errors="replace") if rc == 0 else f"curl exit {rc}"


def raw_request(port, data, limit=5.0):
    """Sends bytes, returns the status line (or what was read)."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
        s.sendall(data)
        got = b""
        end = time.monotonic() + limit
        while b"\r\n" not in got and time.monotonic() < end:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    return got.split(b"\r\n", 1)[0].decode(errors="replace")


def run(example, promparse, curl_path, proc_box):
    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)
        return ok

    proc = subprocess.Popen([example, "--port", "0", "--duration", "20"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    proc_box.append(proc)
    line = read_line(proc, 10)
    prefix, suffix = "listening on http://127.0.0.1:", "/metrics"
    if line is None or not (line.startswith(prefix) and line.endswith(suffix)):
        raise Failed(f"no listening line from the example (got {line!r})")
    port = int(line[len(prefix):-len(suffix)])
    url = f"http://127.0.0.1:{port}/metrics"
    print(f"example: {line}")

    prev = {}  # counter series -> value at the previous scrape
    first = last = None
    saw_b_out = False
    scrapes = 0
    end = time.monotonic() + SCRAPE_FOR_S
    while True:
        t0 = time.monotonic()
        ctype, body = scrape(curl_path, url)
        scrapes += 1
        where = f"scrape {scrapes}"
        if ctype != CONTENT_TYPE:
            check(False, f"{where}: Content-Type {ctype!r}")
        try:
            samples = promparse.parse(body)
        except promparse.ParseError as e:
            raise Failed(f"{where}: invalid exposition: {e}") from None
        names = {name for name, _ in samples}
        for fam in FAMILIES:
            if fam not in names:
                check(False, f"{where}: family {fam} missing")
        states = {}
        for (name, labels), value in samples.items():
            d = dict(labels)
            if name == "failover_route_state" and value == 1:
                states.setdefault(d.get("route"), []).append(d.get("state"))
            elif name == "failover_route_state" and value != 0:
                check(False, f"{where}: state sample {d} is {value}")
        for route in CARRIERS:
            if len(states.get(route, [])) != 1:
                check(False, f"{where}: {route} has states "
                      f"{states.get(route, [])}, expected exactly one")
        if states.get("carrier-b", ["UP"]) != ["UP"]:
            saw_b_out = True
        for key, value in prev.items():
            now = samples.get(key)
            if now is None or now < value:
                check(False, f"{where}: counter {key[0]}{dict(key[1])} went "
                      f"from {value} to {now}")
        prev = {k: v for k, v in samples.items() if k[0].endswith("_total")}
        first = first or samples
        last = samples
        print(f"{where}: {len(samples)} samples, carrier-b "
              f"{states.get('carrier-b')}")
        if time.monotonic() >= end:
            break
        time.sleep(max(0.0, SCRAPE_EVERY_S - (time.monotonic() - t0)))

    check(scrapes >= 5, f"{scrapes} scrapes in {SCRAPE_FOR_S:.0f} s")
    check(not failures, "every scrape valid, every carrier in one state, "
          "no counter decreased, Content-Type 0.0.4")
    routed = ("failover_picks_total", frozenset({("outcome", "routed")}))
    check(last.get(routed, 0) > first.get(routed, 0),
          f"calls are routed meanwhile ({first.get(routed)} -> "
          f"{last.get(routed)})")
    ejections = last.get(("failover_route_ejections_total",
                          frozenset({("route", "carrier-b")})), 0)
    check(saw_b_out or ejections > 0,
          f"carrier-b seen out of service ({saw_b_out}) or ejected "
          f"({ejections:g} times)")

    check(status_of(curl_path, f"http://127.0.0.1:{port}/nope") == "404",
          "/nope is 404")
    check(status_of(curl_path, url, "-X", "POST") == "405",
          "POST /metrics is 405")
    check(raw_request(port, b"NOT A REQUEST\r\n\r\n") ==
          "HTTP/1.1 400 Bad Request", "a malformed request is 400")
    # A client that connects and sends nothing holds only its own slot.
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        t0 = time.monotonic()
        ctype, _ = scrape(curl_path, url)
        check(ctype == CONTENT_TYPE and time.monotonic() - t0 < 2,
              "a scrape is served while a silent client is connected")

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        raise Failed("the example did not exit within 5 s of SIGTERM") \
            from None
    summary = proc.stdout.read().decode(errors="replace").strip()
    print(f"example: {summary}")
    check(code == 0, f"the example exits 0 on SIGTERM (got {code})")
    check(summary.startswith("after "), "the example prints its summary")
    return failures


def main():
    if len(sys.argv) != 4:
        print("usage: metrics-scrape.py EXAMPLE INTEGRATION_DIR CURL",
              file=sys.stderr)
        return 2
    example, integration_dir, curl_path = sys.argv[1:4]
    if not os.access(curl_path, os.X_OK):
        print(f"skipped: no curl at {curl_path!r}")
        return 77
    sys.path.insert(0, integration_dir)
    import promparse

    proc_box = []
    try:
        failures = run(example, promparse, curl_path, proc_box)
    except Failed as e:
        print(f"FAILED: {e}")
        failures = [str(e)]
    finally:
        for proc in proc_box:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
            proc.stdout.close()
    print(f"metrics-scrape: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
