#!/usr/bin/env bash
# Installs every Debian package ds2 needs to build, test and run its demo. Idempotent:
# packages already present are skipped, so a second run costs one dpkg query.
# Usage: scripts/install-deps.sh [--no-update]
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  openmpi-bin libopenmpi-dev
  libopenblas-dev
  libhdf5-dev hdf5-tools
  libfftw3-dev
  libsox-dev libsox-fmt-all sox
  libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev sqlite3
  clang-format  # scripts/check_format.sh (test format)
  libicu-dev  # transcript normalization (NFKC_Casefold, Unicode categories)
  libxxhash-dev  # shard checksums (XXH3)
  espeak-ng fortunes fortune-mod fortunes-zh  # fortunes-zh: the Mandarin demo (demo.sh --lang cmn)
  python3 python3-h5py python3-numpy
  sctk irstlm
  flac
  slurmctld slurmd slurm-client munge
  chromium  # scripts/report_screenshot.sh (the sweep report's screenshot test)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
[ "${1:-}" = "--no-update" ] || $SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
