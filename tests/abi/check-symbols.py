#!/usr/bin/env python3
"""Exported symbols == version script == FO_API declarations.

Usage: check-symbols.py LIBRARY.so MAPFILE HEADER...

Fails with exit status 3 when a symbol is exported but not in the version
script, is in the version script but not declared FO_API in a public
header, or is declared FO_API but not exported. (Any other non-zero status
means the checker itself failed.)
"""
import re
import subprocess
import sys

MISMATCH = 3


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2].split("@")[0]
        if kind == "A":  # version node names such as FAILOVER_0.1
            continue
        names.add(name)
    return names


def in_map(path):
    text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
    names = set()
    for block in re.finditer(r"global:(.*?)(?:local:|\})", text, re.S):
        names.update(n.strip() for n in block.group(1).split(";") if n.strip())
    return names


def strip_preprocessor(text):
    """Drops preprocessor lines (and their continuations)."""
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)


def declared(headers):
    names = set()
    for path in headers:
        text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
        text = strip_preprocessor(text)
        for m in re.finditer(r"\bFO_API\b([^;{]*?)\b(\w+)\s*\(", text, re.S):
            names.add(m.group(2))
    return names


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    lib, mapfile, headers = sys.argv[1], sys.argv[2], sys.argv[3:]
    sets = {"exported by the library": exported(lib),
            "listed in the version script": in_map(mapfile),
            "declared FO_API in a header": declared(headers)}
    ok = True
    items = list(sets.items())
    for i, (name_a, a) in enumerate(items):
        for name_b, b in items[i + 1:]:
            for sym in sorted(a - b):
                print(f"{sym}: {name_a} but not {name_b}")
                ok = False
            for sym in sorted(b - a):
                print(f"{sym}: {name_b} but not {name_a}")
                ok = False
    bad_prefix = sorted(s for s in sets["exported by the library"]
                        if not s.startswith("fo_") or s.startswith("fo__"))
    for sym in bad_prefix:
        print(f"{sym}: exported without the public fo_ prefix")
        ok = False
    n = len(sets["exported by the library"])
    print(f"{n} symbols checked: {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else MISMATCH


if __name__ == "__main__":
    sys.exit(main())
