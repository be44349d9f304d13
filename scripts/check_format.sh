#!/usr/bin/env bash
# Checks that every C++/CUDA source of the project is formatted as .clang-format says (Google
# base, 100 columns): clang-format --dry-run --Werror on each file; prints the offending files and
# the first lines clang-format would change, and exits 1 if there is any. Exits 77 (ctest: SKIPPED)
# when clang-format is not installed (scripts/install-deps.sh installs it).
# To fix what it reports: clang-format -i FILE...   Usage: check_format.sh [SOURCE_ROOT]
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "SKIPPED: clang-format not installed"; exit 77; }
mapfile -t files < <(find core augment pipeline model decode train eval cli tests bench \
  -type f \( -name '*.h' -o -name '*.cc' -o -name '*.cu' -o -name '*.cuh' \) | sort)
bad=0
for f in "${files[@]}"; do
  if ! out=$(clang-format --dry-run --Werror "$f" 2>&1); then
    bad=$((bad + 1))
    echo "$f: not formatted (clang-format -i $f); first differences:"
    printf '%s\n' "$out" | grep -m 3 -E '(error|warning):' | sed 's/^/  /'
  fi
done
echo "check_format: ${#files[@]} files, $bad not formatted ($(clang-format --version))"
[ "$bad" -eq 0 ]
