#!/bin/sh
# Installs the Debian packages attnzoo needs, and only those that are missing.
# Called by `make deps` (and so by `make`, `make run`, `make test`); safe to run again: it prints nothing
# and exits at once when everything is present. Uses sudo when not root.
#
#   sh scripts/install-deps.sh            # build, run and test needs
#   sh scripts/install-deps.sh --torch    # also python3-torch + python3-numpy (only to regenerate golden files)
#   sh scripts/install-deps.sh --text     # also the real text of lm/ (King James Bible, fortunes, GCIDE dictionary)
#   sh scripts/install-deps.sh --data     # also the real images of the LRA image task (Fashion-MNIST)
#   sh scripts/install-deps.sh --gallery  # also chromium, the headless browser of scripts/check-gallery.sh (large)
set -eu

# libopenblas-openmp-dev, not the default libopenblas-dev (pthread build): see the BLAS note in the Makefile.

# zlib1g-dev libbz2-dev liblzma-dev: gzip, bzip2 and xz in-process, the compressors a language model is compared to.
# python3-nbformat: tests/test_notebooks.cpp validates the notebooks the runner writes against the nbformat schema.
PACKAGES="g++ make pkg-config libopenblas-openmp-dev doctest-dev libstb-dev nlohmann-json3-dev python3-nbformat zlib1g-dev libbz2-dev liblzma-dev"
case "${1:-}" in
  --torch) PACKAGES="$PACKAGES python3-torch python3-numpy" ;;
  # bible-kjv + bible-kjv-text: `bible -p /usr/lib "gen1:1-rev22:21"` prints the King James Bible (4.3 MB);
  # fortunes: /usr/share/games/fortunes/*; dict-gcide: /usr/share/dictd/gcide.dict.dz (Webster's 1913, 40 MB).
  --text) PACKAGES="$PACKAGES bible-kjv bible-kjv-text fortunes dict-gcide" ;;
  # dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/*-ubyte.gz (IDX, gzip, 30 MB), the offline stand-in
  # for LRA's grayscale CIFAR-10 that `attnzoo lra image` reads when no --data is given (lra/fashion.h).
  --data) PACKAGES="$PACKAGES dataset-fashion-mnist" ;;
  --gallery) PACKAGES="$PACKAGES chromium fonts-dejavu-core" ;;
esac

missing=""
for p in $PACKAGES; do
  # dpkg-query prints "install ok installed" only for a fully installed package.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    "install ok installed") ;;
    *) missing="$missing $p" ;;
  esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "install-deps: not root and no sudo; install these packages by hand:$missing" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists: update once, then install.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
