#!/usr/bin/env python3
"""Runs a checker on input that must fail, and passes only if it failed the
right way: with the given exit status and every expected line in its
output. A checker that crashes (a traceback, a missing file) fails this.

Usage: expect-failure.py STATUS EXPECTED_LINE[;EXPECTED_LINE...] -- CMD...
"""
import subprocess
import sys


def main():
    sep = sys.argv.index("--")
    status, expected = int(sys.argv[1]), sys.argv[2].split(";")
    cmd = sys.argv[sep + 1:]
    run = subprocess.run(cmd, capture_output=True, text=True)
    out = run.stdout + run.stderr
    print(out, end="")
    if run.returncode != status:
        print(f"expected exit status {status}, got {run.returncode}")
        return 1
    missing = [e for e in expected if e not in out]
    for e in missing:
        print(f"expected output not found: {e!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
