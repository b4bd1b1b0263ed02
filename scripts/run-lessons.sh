#!/usr/bin/env bash
# scripts/run-lessons.sh — run every lesson program in order and summarise what they checked and drew.
#
#   bash scripts/run-lessons.sh BUILD_LESSONS_DIR OUT_DIR [EXTRA LESSON FLAGS...]
#   bash scripts/run-lessons.sh build/lessons out            # what `make run` does
#   bash scripts/run-lessons.sh build/lessons /tmp/o --quick # every lesson with --quick
#
# Each lesson's narration is shown as it runs; the lesson itself keeps it in OUT_DIR/NAME.log (the log the
# gallery reads, also written by a hand run) and its figures in OUT_DIR/NAME/ (see lessons/lesson.h). A lesson that fails does not stop the others. At the end a table
# lists, per lesson, the self-checks passed, the figures written, the seconds taken and the status.
# Exit status: 0 when every lesson passed, 1 when one failed or crashed, 2 on bad usage.
set -u

if [ $# -lt 2 ]; then
  echo "usage: bash scripts/run-lessons.sh BUILD_LESSONS_DIR OUT_DIR [EXTRA LESSON FLAGS...]" >&2
  exit 2
fi
lessons_dir=$1
out_dir=$2
shift 2

lessons=()
for bin in "$lessons_dir"/[0-9]*; do
  [ -f "$bin" ] && [ -x "$bin" ] && lessons+=("$bin")
done
if [ ${#lessons[@]} -eq 0 ]; then
  echo "error: no lesson programs in $lessons_dir (build them first: make)" >&2
  exit 2
fi
mkdir -p "$out_dir" || { echo "error: cannot create $out_dir" >&2; exit 2; }

now() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

names=() checks=() files=() seconds=() statuses=()
failed=0 passed_checks=0 total_checks=0 total_files=0
run_start=$(now)
count=${#lessons[@]}
index=0
for bin in "${lessons[@]}"; do
  index=$((index + 1))
  name=$(basename "$bin")
  log="$out_dir/$name.log"
  echo
  echo "==================== [$index/$count] $name ===================="
  start=$(now)
  rm -f "$log"  # a lesson that cannot start leaves no log, not the previous run's
  "$bin" --out "$out_dir" "$@"
  rc=$?
  secs=$(elapsed "$start" "$(now)")

  result=$( { [ -f "$log" ] && grep -E '^RESULT ' "$log"; } | tail -n 1)
  check_field=$(sed -n 's/.* checks=\([0-9]*\/[0-9]*\).*/\1/p' <<<"$result")
  file_field=$(sed -n 's/.* files=\([0-9]*\).*/\1/p' <<<"$result")
  status_field=$(sed -n 's/.* status=\([A-Z]*\).*/\1/p' <<<"$result")
  if [ "$rc" -eq 0 ] && [ "$status_field" = "PASS" ]; then
    status=PASS
  elif [ -n "$result" ] && [ "$rc" -le 1 ]; then
    status=FAIL
    failed=$((failed + 1))
  else
    status="ERROR (exit $rc)"
    failed=$((failed + 1))
  fi
  if [ -n "$check_field" ]; then
    passed_checks=$((passed_checks + ${check_field%/*}))
    total_checks=$((total_checks + ${check_field#*/}))
  fi
  [ -n "$file_field" ] && total_files=$((total_files + file_field))
  names+=("$name") checks+=("${check_field:--}") files+=("${file_field:--}") seconds+=("$secs")
  statuses+=("$status")
  echo "---- $name: $status in $secs s"
done
total_secs=$(elapsed "$run_start" "$(now)")

width=6
for name in "${names[@]}"; do [ "${#name}" -gt "$width" ] && width=${#name}; done
echo
echo "==================== summary ===================="
printf "%-${width}s  %8s  %6s  %9s  %s\n" "lesson" "checks" "files" "time (s)" "status"
printf '%*s\n' $((width + 42)) '' | tr ' ' '-'
for i in "${!names[@]}"; do
  printf "%-${width}s  %8s  %6s  %9s  %s\n" "${names[$i]}" "${checks[$i]}" "${files[$i]}" "${seconds[$i]}" \
    "${statuses[$i]}"
done
printf '%*s\n' $((width + 42)) '' | tr ' ' '-'
printf "%-${width}s  %8s  %6s  %9s  %s\n" "total" "$passed_checks/$total_checks" "$total_files" "$total_secs" \
  "$((count - failed))/$count lessons passed"
echo "figures in $out_dir/<lesson>/, narration in $out_dir/<lesson>.log"
[ "$failed" -eq 0 ]
