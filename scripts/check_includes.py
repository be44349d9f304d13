#!/usr/bin/env python3
"""The include graph of DESIGN.md, checked: every `#include "FOLDER/..."` in a library folder must
name the folder itself or one it may depend on, in the order
    core <- augment <- pipeline <- model <- decode <- train, eval <- cli
(train and eval are siblings: neither includes the other). `ds2/config.h` (generated) may be
included anywhere. Prints every offending line as FILE:LINE and exits 1 if there is any.
Usage: check_includes.py [SOURCE_ROOT]
"""
import os
import re
import sys

ORDER = ["core", "augment", "pipeline", "model", "decode", "train", "eval", "cli"]
ALLOWED = {f: set(ORDER[: i + 1]) for i, f in enumerate(ORDER)}
ALLOWED["eval"] -= {"train"}  # siblings
ALLOWED["cli"] = set(ORDER)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]+"')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    bad, files = [], 0
    for folder in ORDER:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            for name in sorted(names):
                if not name.endswith((".h", ".cc", ".cu", ".cuh")):
                    continue
                files += 1
                path = os.path.join(dirpath, name)
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    m = INCLUDE.match(line)
                    if not m or m.group(1) == "ds2":
                        continue
                    if m.group(1) not in ALLOWED[folder]:
                        rel = os.path.relpath(path, root)
                        bad.append(f"{rel}:{n}: {folder}/ may not include \"{m.group(1)}/...\" "
                                   f"(allowed: {', '.join(sorted(ALLOWED[folder]))})")
    for b in bad:
        print(b)
    print(f"check_includes: {files} files, {len(bad)} include(s) against DESIGN.md's graph")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
