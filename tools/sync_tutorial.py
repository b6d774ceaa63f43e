#!/usr/bin/env python3
"""Rewrites the README's tutorial code blocks from the sources they quote.

A block is announced by `<!-- tutorial:NAME PATH -->` followed by a fenced
block; its body becomes the lines of PATH between `[tutorial:NAME]` and
`[/tutorial:NAME]`, common indent removed. test/net/examples_test.cpp
checks that the two agree; run this after changing a quoted source.
"""
import re
import sys


def snippet(path, name):
    body, on = [], False
    for line in open(path).read().split("\n"):
        if f"[/tutorial:{name}]" in line:
            break
        if on:
            body.append(line)
        if f"[tutorial:{name}]" in line:
            on = True
    indents = [len(l) - len(l.lstrip(" ")) for l in body if l.strip()]
    cut = min(indents) if indents else 0
    return [l[cut:] if len(l) >= cut else l for l in body]


def main(readme="README.md"):
    lines = open(readme).read().split("\n")
    out, i = [], 0
    while i < len(lines):
        out.append(lines[i])
        m = re.match(r"<!-- tutorial:(\S+) (\S+)", lines[i])
        if m:
            out.append(lines[i + 1])  # the opening fence
            j = i + 2
            while lines[j] != "```":
                j += 1
            out.extend(snippet(m.group(2), m.group(1)))
            i = j
            continue
        i += 1
    open(readme, "w").write("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
