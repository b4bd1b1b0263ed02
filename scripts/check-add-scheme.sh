#!/usr/bin/env bash
# scripts/check-add-scheme.sh — the README's promise, checked: the scheme file in its "Add a scheme" section,
# copied into the path named on its first line of a copy of this tree, with no other edit, builds and shows up in
# `attnzoo list`, `show`, `run`, `bench`, `lra`, the gallery notebook, lesson 15's taxonomy and the test suite's
# conformance table (which must run more assertions than without it), and the whole test suite still passes.
#
# Usage: bash scripts/check-add-scheme.sh [BUILD_DIR]   (run from anywhere; CI runs it after `make test`)
# The copy lives in a temporary directory, removed at the end; this tree is not touched. An existing BUILD_DIR
# (default build/) is copied along, so only the new file is compiled.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
tmp="$(mktemp -d)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-add-scheme: $*" >&2; exit 1; }

# 1. The first ```cpp block of README.md whose first line is a comment naming a file under attention/.
/usr/bin/python3 - "$root/README.md" "$tmp/block.cpp" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
for block in re.findall(r"```cpp\n(.*?)```", text, re.S):
    if re.match(r"// attention/[A-Za-z0-9_]+\.cpp ", block):
        open(sys.argv[2], "w", encoding="utf-8").write(block)
        break
else:
    sys.exit("check-add-scheme: README.md has no ```cpp block starting with '// attention/NAME.cpp'")
EOF
path="$(head -1 "$tmp/block.cpp" | sed -E 's#^// (attention/[A-Za-z0-9_]+\.cpp) .*#\1#')"
name="$(sed -nE 's/^ *i\.name = "([A-Za-z0-9_]+)";.*/\1/p' "$tmp/block.cpp" | head -1)"
[ -n "$name" ] || fail "the README's scheme file sets no i.name"
echo "check-add-scheme: README block -> $path (scheme '$name')"

# 2. A copy of this tree (tracked files as they are on disk) and of its build, then the one new file.
mkdir -p "$tmp/tree/build"
(cd "$root" && git ls-files -z | tar --null -T - -cf -) | tar -C "$tmp/tree" -xf -
[ ! -e "$tmp/tree/$path" ] || fail "$path already exists in the tree: the README's example must be a new scheme"
if [ -d "$build" ]; then tar -C "$build" --exclude=./asan -cf - . | tar -C "$tmp/tree/build" -xf -; fi
cp "$tmp/block.cpp" "$tmp/tree/$path"
cd "$tmp/tree"
make --no-print-directory -j"$(nproc)" build > "$tmp/make.log" 2>&1 || { tail -30 "$tmp/make.log"; fail "make failed with $path added"; }

# 3. Everywhere, with no other edit.
cli=build/attnzoo
# (each output goes to a file first: `grep -q` in a pipe would stop reading early, and under pipefail the writer's
# SIGPIPE would count as a failure)
$cli list > "$tmp/list.txt"
grep -qE "^$name +" "$tmp/list.txt" || fail "attnzoo list does not show $name"
$cli show "$name" --n 24 --out "$tmp/show.png" > /dev/null || fail "attnzoo show $name failed"
/usr/bin/python3 - "$tmp" <<'EOF'
import random, struct, sys
random.seed(1)
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 16, 8), }"
header += " " * (63 - len(header)) + "\n"  # magic (6) + version (2) + length (2) + header = 74: pad to 64 + 10
for name in "qkv":
    with open(f"{sys.argv[1]}/{name}.npy", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<256f", *(random.uniform(-1, 1) for _ in range(256))))
EOF
$cli run "$name" --q "$tmp/q.npy" --k "$tmp/k.npy" --v "$tmp/v.npy" --out "$tmp/o.npy" \
  --grad-out "$tmp/q.npy" --grads "$tmp/grads" > /dev/null || fail "attnzoo run $name failed"
[ -s "$tmp/o.npy" ] && [ -s "$tmp/grads/dq.npy" ] || fail "attnzoo run $name wrote no output"
$cli bench --schemes "full,$name" --n 256,512 --out "$tmp/bench" > /dev/null || fail "attnzoo bench failed"
grep -q "^| $name |" "$tmp/bench/attention.md" || fail "attnzoo bench's table has no row for $name"
$cli lra listops --scheme "$name" --steps 3 --out "$tmp/lra" > /dev/null || fail "attnzoo lra listops failed"
[ -s "$tmp/lra/result.json" ] || fail "attnzoo lra wrote no result.json"
build/notebooks/attention_gallery --quick --out "$tmp/gallery" > "$tmp/gallery.txt"
grep -qE "^$name: [0-9]+ of [0-9]+ pairs" "$tmp/gallery.txt" || fail "the gallery notebook does not draw $name"
build/lessons/15_comparison_and_taxonomy --quick --out "$tmp/l15" > "$tmp/l15.txt"
grep -qE "^ *$name +[0-9]+ +[A-Z+*]+ " "$tmp/l15.txt" || fail "lesson 15's taxonomy has no row for $name"
count() { "$1" -tc='conformance*' | sed -nE 's/^\[doctest\] assertions: *([0-9]+).*/\1/p'; }
before="$(count "$build/tests/run_tests")"
after="$(count build/tests/run_tests)"
[ "$after" -gt "$before" ] || fail "the conformance table did not run $name ($before assertions before, $after after)"
# The whole suite but the case that reruns every lesson's exercise with its reference solution and its known-wrong
# answer (~5 min; `make sanitize` skips it too): a new scheme changes no exercise, and each lesson's --quick run,
# which lesson 15's taxonomy with the new scheme is part of, stays in.
build/tests/run_tests -tce="lessons: every exercise's solution*" > "$tmp/tests.log" 2>&1 || { tail -30 "$tmp/tests.log"; fail "the test suite fails with $name added"; }
echo "check-add-scheme: '$name' from README.md appears in list, show, run, bench, lra, the gallery, lesson 15 and" \
     "the conformance table ($before -> $after assertions); the whole suite passes"
