#!/usr/bin/env python3
"""The layering check run by `make test`: a layer includes only itself and
the layers before it in LAYERS. Prints file:line and the offending include
for each include from a lower layer to a higher one, and exits non-zero.

Files outside the layers (troupe.hpp, examples/, test/, bench/) may include
every layer; but a suite (test/<suite>/) includes no other suite's files,
only its own and test/support/ (the fixtures shared with bench/). `--self-test` proves the check fails on bad trees.

Usage: check_layers.py [--root DIR] [--layers L1 L2 ...] | --self-test
"""
import os
import re
import subprocess
import sys
import tempfile

# Lowest first. A file belongs to the longest layer folder that holds it;
# a source file in a layer's top folder but in no layer (net/x.hpp) is
# reported too, so that nothing escapes the check.
LAYERS = ["runtime", "supervisors", "persist", "net/ws", "net/gateway", "cluster/link", "cluster"]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCES = (".hpp", ".cpp", ".h", ".ipp")


def layer_of(path, layers):
    """Index in layers of the layer holding path (relative, '/'-separated), or None."""
    best = None
    for i, layer in enumerate(layers):
        if path.startswith(layer + "/") and (best is None or len(layer) > len(layers[best])):
            best = i
    return best


def resolve(root, including, kind, target):
    """The included path relative to root: relative to the including file
    first (quotes only, as the compiler does), else relative to root (-I.)."""
    if kind == '"':
        local = os.path.normpath(os.path.join(os.path.dirname(including), target))
        if target.startswith(".") or os.path.isfile(os.path.join(root, local)):
            return local.replace(os.sep, "/")
    return os.path.normpath(target).replace(os.sep, "/")


def sources(root, top):
    """The C++ sources under root/top, as paths relative to root."""
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for name in sorted(files):
            if name.endswith(SOURCES):
                yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")


def includes(root, rel):
    """(line number, line, included path relative to root) of each include of rel."""
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield lineno, line, resolve(root, rel, m.group(1), m.group(2))


def violations(root, layers):
    found = []
    for top in sorted({layer.split("/")[0] for layer in layers}):
        for rel in sources(root, top):
            own = layer_of(rel, layers)
            if own is None:
                found.append(f"{rel}:1: not in any layer ({', '.join(layers)})")
                continue
            for lineno, line, target in includes(root, rel):
                theirs = layer_of(target, layers)
                if theirs is not None and theirs > own:
                    found.append(f"{rel}:{lineno}: {line.strip()}  "
                                 f"({layers[own]} may not include {layers[theirs]})")
    return found


def suite_violations(root):
    """Includes of another suite's files from test/<suite>/ or bench/."""
    found = []
    for top in ("test", "bench"):
        for rel in sources(root, top):
            parts = rel.split("/")
            own = "/".join(parts[:2]) + "/" if top == "test" and len(parts) > 2 else None
            for lineno, line, target in includes(root, rel):
                if (target.startswith("test/") and not target.startswith("test/support/")
                        and not (own and target.startswith(own))):
                    found.append(f"{rel}:{lineno}: {line.strip()}  "
                                 "(another suite's file: share it through test/support/)")
    return found


def check(root, layers):
    found = violations(root, layers) + suite_violations(root)
    for v in found:
        print(v, file=sys.stderr)
    if found:
        print(f"layering: {len(found)} include(s) across layers or suites the wrong way "
              f"(order: {' < '.join(layers)}; suites share only test/support/)", file=sys.stderr)
        return 1
    return 0


def self_test():
    """The check, run as `make test` runs it, passes a clean tree and fails
    (status 1, file:line named) on each kind of bad include."""
    clean = {
        "runtime/a.hpp": '#pragma once\n',
        "runtime/detail/b.cpp": '#include "runtime/a.hpp"\n#include "../a.hpp"\n',
        "persist/c.hpp": '#include "runtime/a.hpp"\n#include <vector>\n',
        "net/ws/d.hpp": '#include "persist/c.hpp"\n',
        "net/gateway/e.hpp": '#include "net/ws/d.hpp"\n#include "runtime/a.hpp"\n',
        "troupe.hpp": '#include "net/gateway/e.hpp"\n',
        "test/s/t.cpp": '#include "net/gateway/e.hpp"\n#include "test/support/f.hpp"\n#include "test/s/u.hpp"\n',
        "test/s/u.hpp": '#pragma once\n',
        "test/support/f.hpp": '#include "persist/c.hpp"\n',
        "bench/b.cpp": '#include "test/support/f.hpp"\n',
    }
    bad_cases = [
        (LAYERS, "runtime/bad.hpp", '#include "supervisors/s.hpp"\n', "runtime/bad.hpp:2:"),
        (LAYERS, "persist/detail/bad.cpp", '#include "net/ws/d.hpp"\n', "persist/detail/bad.cpp:2:"),
        (LAYERS, "net/stray.hpp", '#include "runtime/a.hpp"\n', "net/stray.hpp:1: not in any layer"),
        (LAYERS, "runtime/detail/bad.cpp", '#include "../../persist/c.hpp"\n', "runtime/detail/bad.cpp:2:"),
        (LAYERS, "net/ws/bad.cpp", '#include "net/gateway/e.hpp"\n', "net/ws/bad.cpp:2:"),
        (LAYERS, "net/ws/detail/bad.hpp", '#include <net/gateway/e.hpp>\n', "net/ws/detail/bad.hpp:2:"),
        (LAYERS, "test/other/bad.cpp", '#include "test/s/t.cpp"\n', "test/other/bad.cpp:2:"),
        (LAYERS, "bench/bad.cpp", '#include "../test/s/u.hpp"\n', "bench/bad.cpp:2:"),
    ]
    failures = []

    def make_tree(files):
        tmp = tempfile.TemporaryDirectory()
        for path, text in files.items():
            full = os.path.join(tmp.name, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        return tmp

    def run(root, layers):
        return subprocess.run([sys.executable, os.path.abspath(__file__), "--root", root,
                               "--layers", *layers], capture_output=True, text=True)

    with make_tree(clean) as root:
        r = run(root, LAYERS)
        if r.returncode != 0:
            failures.append(f"clean tree rejected: {r.stderr.strip()}")
    for layers, path, include, where in bad_cases:
        files = dict(clean)
        files[path] = "#pragma once\n" + include
        with make_tree(files) as root:
            r = run(root, layers)
            if r.returncode != 1 or where not in r.stderr:
                failures.append(f"{path}: {include.strip()} not reported "
                                f"(status {r.returncode}, {r.stderr.strip()!r})")
    for f in failures:
        print("layering self-test: " + f, file=sys.stderr)
    if not failures:
        print(f"layering self-test: {len(bad_cases)} bad trees rejected, clean tree accepted")
    return 1 if failures else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    root, layers = ".", LAYERS
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--root" and args:
            root = args.pop(0)
        elif arg == "--layers" and args:
            layers, args = args, []
        else:
            print(__doc__, file=sys.stderr)
            return 2
    return check(root, layers)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
