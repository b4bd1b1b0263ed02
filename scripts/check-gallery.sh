#!/usr/bin/env bash
# scripts/check-gallery.sh — open the gallery (OUT/index.html) in a real browser and fail if a picture is missing
# or broken.
#
#   bash scripts/check-gallery.sh [OUT_DIR]       # default out; `make gallery-check` runs it (CI too)
#
# 1. Every <img src> of the page must name an existing file under OUT_DIR (checked without a browser).
# 2. Headless Chromium (Debian's chromium package: sh scripts/install-deps.sh --gallery) loads the page from
#    file:// with networking off and a fresh profile, and dumps the DOM after the load event. The page's own
#    small script (tools/gallery.cpp) has then written the number of images and the src of every one that
#    did not decode (img.complete && naturalWidth > 0 fails) into attributes of <body>.
# 3. Chromium takes a screenshot of the top of the page: OUT_DIR/gallery.png (1280 x 2000).
# Prints one line per problem ("check-gallery: broken image: 01_x/full.png") and a summary.
# Exit status: 0 all images load, 1 a missing or broken image (or no image at all), 2 no page or no browser.
set -u

out_dir=${1:-out}
page=$out_dir/index.html
if [ ! -f "$page" ]; then
  echo "check-gallery: $page does not exist (make run or make notebooks writes it)" >&2
  exit 2
fi
. "$(dirname "$0")/headless.sh"
headless_start check-gallery

failed=0
abs_out=$(cd "$out_dir" && pwd)
url="file://$abs_out/index.html"

# ---- 1. every img src is a file ----------------------------------------------------------------------------
# The gallery percent-encodes src attributes; decode %XX before looking for the file.
srcs=$(grep -o '<img [^>]*src="[^"]*"' "$page" | sed 's/.* src="\([^"]*\)"/\1/')
count=0
while IFS= read -r src; do
  [ -z "$src" ] && continue
  count=$((count + 1))
  path=$(printf '%b' "${src//%/\\x}")
  case "$path" in
    /*|*://*) echo "check-gallery: image with a non-relative src: $src"; failed=1; continue ;;
  esac
  if [ ! -f "$abs_out/$path" ]; then
    echo "check-gallery: missing image file: $out_dir/$path"
    failed=1
  fi
done <<<"$srcs"
if [ "$count" -eq 0 ]; then
  echo "check-gallery: the page shows no images (run make run or make notebooks first)"
  exit 1
fi

# ---- 2. load it in headless Chromium -------------------------------------------------------------------------
headless_dump check-gallery "$url"
loaded=$(body_attr data-images)
broken=$(body_attr data-broken-images)
if [ -z "$loaded" ]; then
  echo "check-gallery: the page's image check did not run (no data-images on <body>): was the page made by build/tools/gallery?"
  exit 1
fi
for src in $broken; do
  echo "check-gallery: broken image (chromium could not decode it): $src"
  failed=1
done
if [ "$loaded" -ne "$count" ]; then
  echo "check-gallery: chromium saw $loaded images, the page source has $count"
  failed=1
fi

# ---- 3. screenshot -------------------------------------------------------------------------------------------
shot="$abs_out/gallery.png"
rm -f "$shot"
(cd "$profile" && timeout 120 "$browser" "${headless_flags[@]}" --window-size=1280,2000 --screenshot="$shot" "$url" \
  >"$profile/shot.log" 2>&1)
if [ ! -s "$shot" ]; then
  echo "check-gallery: chromium wrote no screenshot:"
  tail -n 5 "$profile/shot.log" | sed 's/^/  /'
  failed=1
fi

if [ "$failed" -eq 0 ]; then
  echo "check-gallery: $count images load in chromium; screenshot in $out_dir/gallery.png"
fi
exit "$failed"
