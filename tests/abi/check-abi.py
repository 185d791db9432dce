#!/usr/bin/env python3
"""The public ABI against its committed baseline (libabigail).

    check-abi.py LIBRARY SOURCE_HEADERS BUILD_HEADERS BASELINE
    check-abi.py --update LIBRARY SOURCE_HEADERS BUILD_HEADERS BASELINE

LIBRARY is the built shared library, with debug information; the two header
directories hold include/failover as written and as generated (version.h).
Only types reachable from those headers count.

Passes when the library's ABI is the baseline's, or the baseline's plus
compatible additions: new functions, new enumerators, new fields at the end
of a size-versioned struct (one whose first field is its size, listed in
SIZE_VERSIONED). Fails on anything else abidiff reports: a removed or
changed function, a changed type, a field moved, a new SONAME, and on any
report line it does not understand. After a compatible addition it says
so; --update then writes the new baseline, to commit with the change.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

# abidiff's exit status bits
ERROR, USAGE, CHANGE, INCOMPATIBLE = 1, 2, 4, 8

# Structs the caller passes with their size: they may grow at the end.
SIZE_VERSIONED = {
    "fo_allocator", "fo_clock", "fo_event", "fo_pick", "fo_probe_options",
    "fo_report", "fo_router_options", "fo_route_stats", "fo_router_stats",
}


def abidw(lib, dirs, out_path):
    cmd = ["abidw", "--no-corpus-path", "--no-comp-dir-path",
           "--drop-private-types",
           "--out-file", out_path]
    for d in dirs:
        cmd += ["--headers-dir", d]
    subprocess.run(cmd + [lib], check=True)


def summary_ok(line):
    """A summary line: None if it is not one, else whether it is fine."""
    m = re.match(r"Removed/Changed/Added (functions|variables) summary: "
                 r"(\d+) Removed(?: \(\d+ filtered out\))?, "
                 r"(\d+) Changed(?: \(\d+ filtered out\))?, "
                 r"(\d+) Added", line)
    if m:
        return int(m.group(2)) == 0 and int(m.group(3)) == 0
    m = re.match(r"(Function|Variable) symbols changes summary: "
                 r"(\d+) Removed", line)
    if m:
        return int(m.group(2)) == 0
    if re.match(r"(Leaf changes summary|Changed leaf types summary):", line):
        return True
    return None


def type_change_ok(lines, why):
    """One leaf type change: growth at the end of a size-versioned struct."""
    m = re.match(r"'(?:struct|typedef) (\w+) at [^']*' changed:$", lines[0])
    if not m or m.group(1) not in SIZE_VERSIONED:
        why.append(f"not a size-versioned struct growing: {lines[0]}")
        return False
    old_size = None
    section = None
    for line in lines[1:]:
        if not line.strip():
            continue
        if line.startswith("    "):
            if section == "impacted":
                continue
            if section == "inserted":
                mm = re.match(r"\s+'[^']*', at offset (\d+) \(in bits\)", line)
                if mm and old_size is not None and int(mm.group(1)) >= old_size:
                    continue
            why.append(f"{m.group(1)}: {line.strip()}")
            return False
        line = line.strip()
        mm = re.match(r"type size changed from (\d+) to (\d+) \(in bits\)$",
                      line)
        if mm and int(mm.group(2)) > int(mm.group(1)):
            old_size = int(mm.group(1))
            section = None
        elif re.match(r"\d+ data member insertions?:$", line):
            section = "inserted"
        elif re.match(r"\d+ impacted interfaces?:$", line):
            section = "impacted"
        else:
            why.append(f"{m.group(1)}: {line}")
            return False
    return True


def only_compatible(report, why):
    lines = report.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        ok = summary_ok(line)
        if ok is not None:
            if not ok:
                why.append(line)
                return False
            i += 1
            continue
        if re.match(r"\d+ Added (functions?|variables?|function symbols?"
                    r"|variable symbols?)(?: not referenced by debug info)?:$",
                    line):
            i += 1
            while i < len(lines) and (not lines[i].strip() or
                                      lines[i].startswith("  ")):
                i += 1
            continue
        if line.startswith("'"):
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or
                                      lines[j].startswith("  ")):
                j += 1
            if not type_change_ok(lines[i:j], why):
                return False
            i = j
            continue
        why.append(f"not understood: {line}")
        return False
    return True


def main(argv):
    update = len(argv) > 1 and argv[1] == "--update"
    args = argv[2:] if update else argv[1:]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    lib, src_headers, build_headers, baseline = args
    dirs = [src_headers, build_headers]
    if shutil.which("abidw") is None or shutil.which("abidiff") is None:
        print("abidw/abidiff not found (Debian: abigail-tools)")
        return 77  # meson: skipped

    if update:
        abidw(lib, dirs, baseline)
        print(f"wrote {baseline}")
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        current = os.path.join(tmp, "current.abi")
        abidw(lib, dirs, current)
        diff = subprocess.run(["abidiff", "--leaf-changes-only",
                               "--impacted-interfaces", baseline, current],
                              capture_output=True, text=True)
    rc = diff.returncode
    report = diff.stdout + diff.stderr
    if rc & (ERROR | USAGE):
        print(report)
        print(f"abidiff could not compare (exit {rc})")
        return 1
    if rc == 0:
        print("ABI: the same as the baseline")
        return 0
    print(report)
    why = []
    if rc & INCOMPATIBLE or not only_compatible(report, why):
        for w in why:
            print(f"  {w}")
        print("ABI: INCOMPATIBLE with the baseline (see above). Within a "
              "SONAME only additions are allowed; see the README's ABI "
              "section.")
        return 1
    print("ABI: compatible additions to the baseline. Update the baseline "
          "(README, ABI promise) and commit it with them.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
