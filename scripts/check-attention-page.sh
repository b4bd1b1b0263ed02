#!/usr/bin/env bash
# scripts/check-attention-page.sh — open an attention page (lm::write_attention_page, `attnzoo lm attention`)
# in a real browser and fail if it does not load, has no data or raises an error.
#
#   bash scripts/check-attention-page.sh [PAGE]      # default out/lm/attention.html
#
# Headless Chromium (Debian's chromium: sh scripts/install-deps.sh --gallery) loads the page from file:// with
# networking off and a fresh profile, and dumps the DOM after the load event. The page's script sets on <body>
# data-ready="1" once it has parsed its inlined JSON and drawn the passage, data-models="N", and data-errors
# when any script error happens (window.onerror). Console errors Chromium logs are checked too.
# Exit status: 0 fine, 1 a problem (one line each: "check-attention-page: ..."), 2 no page or no browser.
set -u

page=${1:-out/lm/attention.html}
if [ ! -f "$page" ]; then
  echo "check-attention-page: $page does not exist (attnzoo lm attention ... --out DIR writes DIR/attention.html)" >&2
  exit 2
fi
. "$(dirname "$0")/headless.sh"
headless_start check-attention-page

failed=0
# 1. Without a browser: the data is inlined and nothing is fetched from the network.
if ! grep -q '<script type="application/json" id="attention-data">{' "$page"; then
  echo "check-attention-page: no inlined data (<script id=\"attention-data\">) in $page"
  failed=1
fi
if grep -Eq '(src|href)="(https?:)?//' "$page"; then
  echo "check-attention-page: the page loads something from the network"
  failed=1
fi

# 2. Load it in headless Chromium.
# #query=1: the page shows at once where character 1 looks, as a hover would (every character gets a colour);
# the console goes to dump.log (read below for errors)
url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")#query=1"
headless_dump check-attention-page "$url" --enable-logging=stderr --v=0
ready=$(body_attr data-ready)
models=$(body_attr data-models)
errors=$(body_attr data-errors)
if [ "$ready" != "1" ]; then
  echo "check-attention-page: the page's script did not finish (no data-ready on <body>)"
  failed=1
fi
if [ -z "$models" ] || [ "$models" -lt 1 ]; then
  echo "check-attention-page: the page has no model data"
  failed=1
fi
if [ -n "$errors" ]; then
  echo "check-attention-page: script error: $errors"
  failed=1
fi
spans=$(grep -o 'class="ch' <<<"$dom" | wc -l)
if [ "$spans" -lt 1 ]; then
  echo "check-attention-page: no passage characters were drawn"
  failed=1
fi
coloured=$(grep -o 'class="ch[^"]*" style="background: rgba\?(' <<<"$dom" | wc -l)
if [ "$coloured" -lt "$spans" ]; then
  echo "check-attention-page: showing query 1 coloured $coloured of $spans characters"
  failed=1
fi
console=$(grep -E 'CONSOLE.*(Uncaught|Error)|Uncaught ' "$profile/dump.log")
if [ -n "$console" ]; then
  echo "check-attention-page: console error:"
  sed 's/^/  /' <<<"$console" | head -n 5
  failed=1
fi
if [ $failed -eq 0 ]; then
  echo "check-attention-page: $page loads: ${models} models, ${spans} characters drawn and coloured by query 1, no errors"
fi
exit $failed
