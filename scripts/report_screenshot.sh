#!/usr/bin/env bash
# Screenshot of a `ds2 sweep` HTML report with headless Chromium, and a check that it shows
# something: the PNG must decode, be at least 200x200, and hold more than one colour and at
# least 1% non-white pixels (a blank or failed page is a single colour).
# Usage: scripts/report_screenshot.sh REPORT.html OUT.png
# Exit: 0 ok, 1 the screenshot is blank or missing, 2 usage, 77 chromium is not installed
# (ctest's SKIP_RETURN_CODE).
set -euo pipefail
report=${1:?usage: report_screenshot.sh REPORT.html OUT.png}
out=${2:?usage: report_screenshot.sh REPORT.html OUT.png}
[[ -f $report ]] || { echo "report_screenshot: $report: no such file" >&2; exit 2; }
browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then browser=$b; break; fi
done
[[ -n $browser ]] || { echo "SKIP: chromium not installed (scripts/install-deps.sh)"; exit 77; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
flags=(--headless --disable-gpu --no-sandbox --hide-scrollbars --no-first-run
  --user-data-dir="$profile" --window-size=1200,1600 --screenshot="$(realpath -m "$out")")
if ! timeout 120 "$browser" "${flags[@]}" "file://$(realpath "$report")" >"$profile/log" 2>&1 ||
  [[ ! -s $out ]]; then
  cat "$profile/log" >&2
  echo "report_screenshot: $browser wrote no screenshot $out" >&2
  exit 1
fi

# Decode the PNG (8-bit RGB/RGBA, non-interlaced: what Chromium writes) with zlib only.
/usr/bin/python3 - "$out" <<'EOF'
import struct, sys, zlib

path = sys.argv[1]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{path}: not a PNG")
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, nonwhite = set(), 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:  # every 4th row is plenty for the checks
        for x in range(0, w, 2):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            nonwhite += px != b"\xff\xff\xff"
sampled = ((h + 3) // 4) * ((w + 1) // 2)
print(f"{path}: {w}x{h}, {len(colours)} colours, {100 * nonwhite / sampled:.1f}% non-white")
if w < 200 or h < 200:
    sys.exit(f"{path}: screenshot too small ({w}x{h})")
if len(colours) < 2 or nonwhite < 0.01 * sampled:
    sys.exit(f"{path}: the screenshot is blank")
EOF
