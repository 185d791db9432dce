#!/usr/bin/env python3
"""Instructions per operation of bench/decision's cases, under callgrind.

    bench/instructions.py BUILD/bench/decision [CASE...]

Each case runs in its own process under
    valgrind --tool=callgrind --toggle-collect=measured
which counts only the instructions executed inside measured() (and what
it calls): a warm-up of 1000 operations, then the iterations asked for.
The count divided by their sum is the figure printed. Instruction counts
do not depend on how busy the machine is, so they are the stable figures
to compare commits with; the nanoseconds bench/decision prints are not.

Without CASE it runs the targets' cases and the floors.
"""
import os
import re
import subprocess
import sys
import tempfile

WARMUP = 1000
DEFAULT_CASES = [
    # the floors
    ("mutex", 200000), ("atomic", 200000),
    ("coarse-clock", 200000), ("clock", 200000),
    # picks with a healthy primary
    ("pick-priority-4", 100000), ("pick-priority-16", 100000),
    ("pick-priority-256", 100000), ("pick-priority-4096", 100000),
    ("pick-weighted-16", 100000), ("pick-cost-16", 100000),
    # picks with every route but the last tier out
    ("worst-priority-16", 100000), ("worst-priority-4096", 20000),
    ("worst-cost-4096", 20000),
    # reports
    ("success-16", 100000), ("fault-16", 100000),
    ("success-4096", 100000),
]
TARGETS = {
    "pick-priority-16": 150,
    "success-16": 250,
    "worst-priority-4096": 2000,
}


def count(decision, case, iterations):
    """Instructions per operation of one case."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--toggle-collect=measured",
             f"--callgrind-out-file={out}", decision, "--case", case,
             "--iterations", str(iterations)],
            capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{case}: exit {proc.returncode}\n"
                               f"{proc.stderr[-2000:]}")
        m = re.search(r"Collected : (\d+)", proc.stderr)
        if m is None:
            raise RuntimeError(f"{case}: no count in callgrind's output")
    floors = ("mutex", "atomic", "clock", "coarse-clock")
    ops = iterations if case in floors else iterations + WARMUP
    return int(m.group(1)) / ops


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    decision = sys.argv[1]
    cases = ([(c, 100000) for c in sys.argv[2:]] if len(sys.argv) > 2
             else DEFAULT_CASES)
    print(f"{'case':<22} {'instructions/op':>16}  target")
    for case, iterations in cases:
        n = count(decision, case, iterations)
        target = TARGETS.get(case)
        mark = ""
        if target is not None:
            mark = f"<= {target}: {'met' if n <= target else 'NOT met'}"
        print(f"{case:<22} {n:>16.1f}  {mark}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
