#!/usr/bin/env python3
"""Writes the fenced C block that follows `<!-- snippet: NAME -->` in a
Markdown file, so the build compiles the README's code as users see it.

Usage: extract-snippet.py README.md NAME OUTPUT.c
"""
import sys


def main():
    readme, name, output = sys.argv[1:4]
    lines = open(readme).read().splitlines()
    marker = f"<!-- snippet: {name} -->"
    try:
        start = lines.index(marker)
    except ValueError:
        sys.exit(f"{readme}: no {marker}")
    body, inside = [], False
    for line in lines[start + 1:]:
        if line.startswith("```"):
            if inside:
                break
            inside = True
            continue
        if inside:
            body.append(line)
    if not body:
        sys.exit(f"{readme}: empty snippet {name}")
    with open(output, "w") as out:
        out.write(f"/* Extracted from {readme} ({marker}). */\n")
        out.write("\n".join(body) + "\n")


if __name__ == "__main__":
    main()
