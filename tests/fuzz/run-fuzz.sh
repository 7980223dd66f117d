#!/usr/bin/env bash
# run-fuzz.sh -- runs one libFuzzer target for a while, then prints one
# line of figures; exits non-zero when the target crashed (or leaked,
# timed out, or failed a FUZZ_CHECK). Called by `make fuzz` (mk/fuzz.mk).
#
#   tests/fuzz/run-fuzz.sh BUILD TARGET SECONDS [libFuzzer flags...]
#
# Inputs: BUILD/fuzz/corpus/TARGET (new inputs are written there, and it is
# git-ignored: nothing found lands in the repo by itself), the committed
# seeds tests/fuzz/corpus/TARGET, tests/fuzz/regressions/TARGET when it
# exists, and BUILD/fuzz/seeds/TARGET when make fuzz made one (read only).
# Crash inputs land in BUILD/fuzz/crashes/TARGET/; the whole libFuzzer
# output in BUILD/fuzz/logs/TARGET.log.

set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 BUILD TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
b=$1 t=$2 secs=$3
shift 3

# The longest input per target: frames with a few events (merge), one
# event (verify), a message near the smallest frame limit (negentropy).
# A dictionary only helps the JSON targets.
case $t in
  fuzz_merge)      maxlen=16384 dict=tests/fuzz/nostr.dict ;;
  fuzz_verify)     maxlen=8192  dict=tests/fuzz/nostr.dict ;;
  fuzz_negentropy) maxlen=8192  dict= ;;
  *) echo "run-fuzz.sh: unknown target $t" >&2; exit 2 ;;
esac

corpus=$b/fuzz/corpus/$t
crashes=$b/fuzz/crashes/$t
log=$b/fuzz/logs/$t.log
mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
dirs=("$corpus" "tests/fuzz/corpus/$t")
for d in "tests/fuzz/regressions/$t" "$b/fuzz/seeds/$t"; do
  [ -d "$d" ] && dirs+=("$d")
done

echo "# $t: ${secs}s, log in $log"
# -timeout: an input that takes 30 s is a bug (a peer could stall the
# worker), reported like a crash. Leak checks are libFuzzer's default.
"$b/fuzz/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=30 \
  -max_len="$maxlen" ${dict:+-dict=$dict} -artifact_prefix="$crashes/" \
  "$@" "${dirs[@]}" >"$log" 2>&1
rc=$?

# libFuzzer's last status line ("#N DONE cov: C ft: F corp: K/S ...") and
# its final stats.
last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
field() { sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<<"$last"; }
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
printf '%-16s execs %-9s exec/s %-6s cov %-6s ft %-7s corpus %-12s new %-5s rss %s MB\n' \
  "$t" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
  "$(field cov)" "$(field ft)" "$(field corp)" "$(stat new_units_added)" "$(stat peak_rss_mb)"

if [ $rc -ne 0 ]; then
  echo "# $t FAILED (exit $rc): the report, from $log:" >&2
  grep -n -m1 -E '==ERROR|FUZZ_CHECK failed|runtime error|ERROR: libFuzzer' "$log" >&2
  tail -40 "$log" >&2
  echo "# inputs kept in $crashes:" >&2
  ls -l "$crashes" >&2
  exit 1
fi
