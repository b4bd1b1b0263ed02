# scripts/headless.sh — what the browser checks share (sourced by check-gallery.sh and check-attention-page.sh):
# find Chromium, make a throwaway profile, load a page headless with networking off, read the <body> attributes
# the page's own script wrote.
#
#   . "$(dirname "$0")/headless.sh"
#   headless_start check-gallery          # sets $browser, $profile (removed on exit), $headless_flags; exit 2
#                                         # with one line when there is no Chromium
#   headless_dump check-gallery "$url"    # sets $dom (the DOM after the load event) and $body (its <body> tag);
#                                         # exit 1 with chromium's last lines when the page does not load
#   body_attr data-images                 # prints the value of one attribute of $body (empty when missing)

headless_start() {
  local who=$1 b
  browser=""
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
  done
  if [ -z "$browser" ]; then
    echo "$who: no Chromium found (install it with: sh scripts/install-deps.sh --gallery)" >&2
    exit 2
  fi
  profile=$(mktemp -d "${TMPDIR:-/tmp}/attnzoo-chromium-XXXXXX")
  trap 'rm -rf "$profile"' EXIT
  headless_flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run
                  --disable-background-networking --disable-component-update --disable-sync --disable-extensions
                  --hide-scrollbars --mute-audio --user-data-dir="$profile" --virtual-time-budget=10000)
}

headless_dump() {
  local who=$1 url=$2 rc
  shift 2
  dom=$(timeout 120 "$browser" "${headless_flags[@]}" "$@" --dump-dom "$url" 2>"$profile/dump.log")
  rc=$?
  if [ $rc -ne 0 ] || [ -z "$dom" ]; then
    echo "$who: chromium could not load $url (exit $rc):"
    tail -n 5 "$profile/dump.log" | sed 's/^/  /'
    exit 1
  fi
  body=$(grep -o '<body[^>]*>' <<<"$dom" | head -n 1)
}

body_attr() {
  sed -n "s/.* $1=\"\([^\"]*\)\".*/\1/p" <<<"$body"
}
