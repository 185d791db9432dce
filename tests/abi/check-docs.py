#!/usr/bin/env python3
"""Every FO_API declaration is documented the way STYLE.md asks.

Usage: check-docs.py HEADER...

Each declaration needs a /** ... */ comment right above it with @brief,
@since, "Thread safety:" and "Callback-safe:" lines, an @param for every
named parameter, @return unless it returns void, at least one @retval if it
returns an int status, and "Allocation: none." for the calls on every
call's path. Exits 3 when a declaration falls short (any other non-zero
status means the checker itself failed).
"""
import re
import sys

MISMATCH = 3

HOT_PATH = {"fo_pick_route", "fo_report_result"}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    problems = []
    count = 0
    for path in sys.argv[1:]:
        text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*",
                      lambda m: "\n" * m.group(0).count("\n"),
                      open(path).read(), flags=re.M)
        for m in re.finditer(r"\bFO_API\b([^;{]*?)\b(fo_\w+)\s*\(([^)]*)\)",
                             text, re.S):
            count += 1
            name, rettype = m.group(2), m.group(1).strip()
            params = [p.strip() for p in m.group(3).split(",")]
            params = [re.findall(r"\w+", p)[-1] for p in params
                      if p and p != "void"]
            before = text[:m.start()].rstrip()
            if not before.endswith("*/"):
                problems.append(f"{path}: {name}: no doc comment")
                continue
            start = before.rfind("/**")
            if start < 0 or before.rfind("*/", 0, len(before) - 2) > start:
                problems.append(f"{path}: {name}: comment is not /** */")
                continue
            doc = before[start:]
            need = ["@since", "Thread safety:", "Callback-safe:", "@brief"]
            if rettype != "void":
                need.append("@return")
            if name in HOT_PATH:
                need.append("Allocation: none.")
            for item in need:
                if item not in doc:
                    problems.append(f"{path}: {name}: missing {item!r}")
            for param in params:
                if not re.search(r"@param(\[[a-z,]+\])?\s+" + param + r"\b",
                                 doc):
                    problems.append(f"{path}: {name}: no @param for {param}")
            if rettype == "int" and "@retval" not in doc:
                problems.append(f"{path}: {name}: int status without @retval")
    for p in problems:
        print(p)
    print(f"{count} declarations checked: "
          f"{'ok' if not problems else str(len(problems)) + ' problems'}")
    if count == 0:
        return 1
    return MISMATCH if problems else 0


if __name__ == "__main__":
    sys.exit(main())
