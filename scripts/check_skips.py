#!/usr/bin/env python3
"""The CI gate for skipped tests: a check whose tool is missing reports SKIPPED, and on the
machine where scripts/install-deps.sh has installed every tool (sclite, IRSTLM, sox, Slurm,
Chromium, espeak-ng, ...) nothing may be skipped except for want of a GPU. Reads ctest's JUnit
report and fails naming each other skipped test and the reason it printed.

Usage: check_skips.py JUNIT.xml GPU_TESTS.txt
  JUNIT.xml      ctest --output-junit
  GPU_TESTS.txt  ctest -N -L gpu (the tests allowed to skip where no CUDA device is found)
Exit 0 when every skip is a GPU test's (or a test that skips because a device IS present), else 1.
"""
import re
import sys
import xml.etree.ElementTree as ET


def skip_reason(out):
    """The line a skipped test gave as its reason (gtest's line after "Skipped", a script's
    "SKIP..." line), or ""."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.endswith(": Skipped") and i + 1 < len(lines):
            return lines[i + 1].strip()
        if line.startswith("SKIP"):
            return line.strip()
    return ""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    junit, gpu_list = sys.argv[1], sys.argv[2]
    gpu = set(re.findall(r"Test\s+#\d+: (.+)", open(gpu_list).read()))
    gpu = {g.strip() for g in gpu}
    allowed, bad = [], []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("skipped") is None and case.get("status") != "notrun":
            continue
        name = case.get("name")
        out = case.findtext("system-out") or ""
        reason = skip_reason(out)
        if name in gpu or "CUDA device" in reason:
            allowed.append(name)
        else:
            bad.append(f"{name}: {reason or 'no reason printed'}")
    if allowed:
        print(f"check_skips: {len(allowed)} GPU test(s) skipped (no CUDA device here)")
    for b in bad:
        print(f"check_skips: FAILED: skipped where its tool should be installed: {b}")
    if bad:
        print(f"check_skips: {len(bad)} test(s) skipped a check this machine must make "
              f"(install what they name, or set DS2_ALLOW_SKIPS=1 on a machine without them)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
