#!/usr/bin/env python3
"""check-layout.py - the layout rules of src/lib that a compiler does not check.

1. Folders are layers (docs/ARCHITECTURE.md, "Layers"): a file in
   src/lib/FOLDER may include headers of its own folder and of folders in
   lower layers only; never of a higher layer, nor of a sibling concern in
   the same layer (siblings talk through queues, not calls).
2. Queue names and metadata keys are written once, in store/names.h: a
   string literal that is a queue name or a metadata key must not appear as
   an argument of a queue_* call, nor as a queue directory in a path
   ("queue", "<name>"), anywhere in src/ outside that header.

Prints one line per violation and exits 1 if there is any; with --tap,
prints TAP lines instead; --top DIR checks the tree at DIR.
"""
import os
import re
import sys

# The layers, lowest first.  Folders in one layer are sibling concerns.
LAYERS = [
    ["base"],
    ["store"],
    ["mail"],
    ["list"],
    ["archive"],
    ["pipeline", "deliver", "entry", "bounce", "commands", "digest",
     "news"],
    ["runners", "tasks", "import", "web", "api"],
]
RANK = {folder: i for i, layer in enumerate(LAYERS) for folder in layer}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
DEFINE = re.compile(r'#define\s+(QUEUE|META)_\w+\s+"([^"]+)"')
# A call of a queue_* function up to its closing parenthesis (no nesting
# deeper than one level is needed for herald's calls).
QUEUE_CALL = re.compile(r'\bqueue_\w+\s*\(((?:[^()]|\([^()]*\))*)\)', re.S)
QUEUE_PATH = re.compile(r'"queue"\s*,\s*"([^"]+)"')
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def sources(top):
    for dirpath, _, files in os.walk(os.path.join(top, "src")):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"),
                  text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check_includes(top, path, text):
    rel = os.path.relpath(path, os.path.join(top, "src", "lib"))
    if rel.startswith(".."):
        return []  # the program and tests may include any layer
    folder = rel.split(os.sep)[0]
    if folder not in RANK:
        return ["%s: folder %s is in no layer of check-layout.py"
                % (path, folder)]
    bad = []
    for m in INCLUDE.finditer(text):
        inc = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        if "/" not in inc:
            bad.append("%s:%d: include \"%s\" without its folder"
                       % (path, line, inc))
            continue
        other = inc.split("/")[0]
        if other == folder:
            continue
        if other not in RANK:
            bad.append("%s:%d: include \"%s\": no such layer"
                       % (path, line, inc))
        elif RANK[other] > RANK[folder]:
            bad.append("%s:%d: %s includes %s, a higher layer"
                       % (path, line, folder, inc))
        elif RANK[other] == RANK[folder]:
            bad.append("%s:%d: %s includes %s, a sibling concern"
                       % (path, line, folder, inc))
    return bad


def check_names(path, text, names):
    bad = []
    code = strip_comments(text)
    hits = []
    for m in QUEUE_CALL.finditer(code):
        for s in STRING.finditer(m.group(1)):
            hits.append((m.start(1) + s.start(), s.group(1)))
    for m in QUEUE_PATH.finditer(code):
        hits.append((m.start(1), m.group(1)))
    for pos, lit in hits:
        if lit in names:
            line = code.count("\n", 0, pos) + 1
            bad.append("%s:%d: \"%s\" written as a literal: use its %s "
                       "from store/names.h" % (path, line, lit, names[lit]))
    return bad


def main():
    tap = "--tap" in sys.argv
    top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    if "--top" in sys.argv:
        top = os.path.abspath(sys.argv[sys.argv.index("--top") + 1])
    names_h = os.path.join(top, "src", "lib", "store", "names.h")
    names = {}
    with open(names_h) as f:
        for m in DEFINE.finditer(f.read()):
            names[m.group(2)] = "%s_ macro" % m.group(1)
    inc_bad, name_bad = [], []
    for path in sources(top):
        with open(path) as f:
            text = f.read()
        inc_bad += check_includes(top, path, text)
        if os.path.abspath(path) != names_h:
            name_bad += check_names(path, text, names)
    if tap:
        for b in inc_bad + name_bad:
            print("# " + b)
        print("%s - every include of src/lib goes to its own or a lower layer"
              % ("ok" if not inc_bad else "not ok"))
        print("%s - queue names and metadata keys only in store/names.h"
              % ("ok" if not name_bad else "not ok"))
        return 0
    for b in inc_bad + name_bad:
        print(b)
    return 1 if inc_bad or name_bad else 0


if __name__ == "__main__":
    sys.exit(main())
