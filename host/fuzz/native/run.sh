#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, ASan + UBSan) of the device's C and of the
# emulated ESP-IDF's parsers. See README.md in this folder.
#
#   host/fuzz/native/run.sh [--short|--long|--replay] [--seed N] [--time S] [--targets "a b"] [--jobs J] [--fresh]
#
#   --short   (default) every target from its generated seeds and the committed
#             regressions, a fixed number of runs (capped in time): CI
#   --long    every target for --time seconds (default 150; 2 at a time: ~10 min),
#             keeping and growing the corpus in build/fuzz/native/corpus/ (--fresh: start over)
#   --replay  run the committed regressions and the seeds once each (make test)
#
# Human-readable progress goes to stderr; the last stdout line is one JSON object:
#   {"targets":[{"name","runs","seconds","crashes","timeouts","ooms","features","corpus"}],"seed":N}
# Exit status: 0 when nothing was found, 1 when a target crashed, hung or ran out of
# memory (after all targets ran; inputs in build/fuzz/native/findings/<target>/), 2 on a usage
# or setup error.
set -u -o pipefail
# The whole script is one block, read before it runs: editing it during a long run is safe.
{

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OUT="$ROOT/build/fuzz/native"
ALL_TARGETS="sha image partition_table otadata nvs ota_write native"

mode=short seed=1 time_long=150 targets="$ALL_TARGETS" fresh=0
jobs="$(nproc 2>/dev/null || echo 2)"
[ "$jobs" -gt 2 ] 2>/dev/null || jobs=2
say() { echo "fuzz/native: $*" >&2; }
usage() { say "$1"; sed -n '5,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --short) mode=short ;;
    --long) mode=long ;;
    --replay) mode=replay ;;
    --seed) seed="${2:-}"; shift ;;
    --time) time_long="${2:-}"; shift ;;
    --targets) targets="${2:-}"; shift ;;
    --jobs) jobs="${2:-}"; shift ;;
    --fresh) fresh=1 ;;
    -h|--help) usage "usage:" ;;
    *) usage "unknown argument: $1" ;;
  esac
  shift
done
[[ "$seed" =~ ^[0-9]+$ ]] || usage "--seed must be a non-negative integer"
[[ "$time_long" =~ ^[0-9]+$ && "$time_long" -gt 0 ]] || usage "--time must be a positive number of seconds"
[[ "$jobs" =~ ^[0-9]+$ && "$jobs" -gt 0 ]] || usage "--jobs must be a positive integer"
for t in $targets; do
  case " $ALL_TARGETS " in *" $t "*) ;; *) usage "unknown target: $t (targets: $ALL_TARGETS)" ;; esac
done

# ---- what it needs: clang with libFuzzer, OpenSSL's headers (the reference digests), the XS sources
need_install=""
command -v clang >/dev/null 2>&1 || need_install="clang"
[ -f /usr/include/openssl/evp.h ] || need_install="$need_install libssl-dev"
if [ -z "$need_install" ] && ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
    clang -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then
  need_install="clang"   # clang without its libFuzzer runtime: the Debian package brings it
fi
if [ -n "$need_install" ]; then
  say "installing Debian packages:$need_install"
  if [ "$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    say "error: clang with libFuzzer and libssl-dev are needed, and installing them needs root or sudo:"
    say "       apt-get install -y clang libssl-dev"; exit 2
  fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_install >/dev/null; }; then
    say "error: could not install$need_install with apt-get; install clang (with libFuzzer: clang -fsanitize=fuzzer) and libssl-dev, then rerun"
    exit 2
  fi
fi
if [[ " $targets " == *" native "* ]] && [ ! -d "$ROOT/node_modules/@agoric/xsnap/moddable/xs/sources" ]; then
  say "the native target runs on the XS engine from node_modules: npm ci"
  (cd "$ROOT" && npm ci --ignore-scripts --no-audit --no-fund >&2) || { say "error: npm ci failed"; exit 2; }
fi

# ---- build
build_start=$(date +%s.%N)
if ! make -s -C "$HERE" $(for t in $targets; do echo "$OUT/fuzz_$t"; done) >/dev/null; then
  say "error: the build failed"; exit 2
fi
say "built in $(awk -v a="$build_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# ---- per target settings: the longest input, and the short mode's runs (about 4 s each here)
max_len() {
  case "$1" in
    sha|partition_table|native) echo 4096 ;;
    otadata) echo 256 ;;
    *) echo 20000 ;;
  esac
}
short_runs() {
  case "$1" in
    sha) echo 30000 ;;
    image) echo 2000 ;;
    partition_table) echo 4000 ;;
    otadata) echo 3000 ;;
    nvs) echo 3000 ;;
    ota_write) echo 3000 ;;
    native) echo 3000 ;;
  esac
}
SHORT_CAP=8   # seconds: the bound on a slow machine (then the run count is what fitted)

mkdir -p "$OUT/logs" "$OUT/findings"

# Same seed, same runs, same result: libFuzzer also records the operands of comparisons, pointers
# among them, so address randomisation (off where setarch may turn it off) and the periodic
# rereading of the corpus directory (-reload=0) would make two runs differ.
NOASLR=()
if setarch "$(uname -m)" -R true >/dev/null 2>&1; then NOASLR=(setarch "$(uname -m)" -R); fi

count_files() { find "$1" -maxdepth 1 -type f -name "$2" 2>/dev/null | wc -l; }

# fuzz_one TARGET: runs libFuzzer (again after a crash, while its budget lasts) and writes
# $OUT/logs/TARGET.json with the figures.
fuzz_one() {
  local t="$1" bin="$OUT/fuzz_$1" corpus="$OUT/corpus/$1" reg="$HERE/regressions/$1"
  local findings="$OUT/findings/$1" log="$OUT/logs/$1.log"
  mkdir -p "$findings"
  if [ "$mode" = short ] || [ "$fresh" = 1 ]; then rm -rf "$corpus"; fi
  mkdir -p "$corpus"
  FUZZ_SEED_DIR="$corpus" "$bin" >/dev/null 2>>"$log.seeds" || { say "$t: writing its seeds failed"; }
  local dirs=("$corpus") extra=()
  [ -n "$(ls -A "$reg" 2>/dev/null)" ] && dirs+=("$reg")
  # Dictionaries in the long mode only: with one, two short runs were not the same.
  [ "$mode" = long ] && [ -f "$HERE/dict/$t.dict" ] && extra+=("-dict=$HERE/dict/$t.dict")
  # Value profiles (operands of comparisons as features) in the long mode only, for the same
  # reason: pointers compared are features too, and their values vary with the run.
  [ "$mode" = long ] && extra+=("-use_value_profile=1")
  local c0 t0 o0 budget_runs budget_time start now elapsed runs=0 ft=0 restarts=0 last_artifacts
  last_artifacts=$(count_files "$findings" '*')
  c0=$(count_files "$findings" 'crash-*'); t0=$(count_files "$findings" 'timeout-*')
  o0=$(( $(count_files "$findings" 'oom-*') + $(count_files "$findings" 'leak-*') ))
  if [ "$mode" = short ]; then budget_runs=$(short_runs "$t"); budget_time=$SHORT_CAP; else budget_runs=-1; budget_time=$time_long; fi
  : > "$log"
  start=$(date +%s.%N)
  while :; do
    local left_time left_runs
    left_time=$(awk -v s="$start" -v n="$(date +%s.%N)" -v b="$budget_time" 'BEGIN { l = b - (n - s); printf "%d", l < 1 ? 0 : l }')
    [ "$left_time" -gt 0 ] || break
    if [ "$budget_runs" -ge 0 ]; then left_runs=$((budget_runs - runs)); [ "$left_runs" -gt 0 ] || break; else left_runs=-1; fi
    "${NOASLR[@]}" "$bin" "${dirs[@]}" -seed="$((seed + restarts))" -runs="$left_runs" -max_total_time="$left_time" \
      -timeout=5 -rss_limit_mb=2048 -max_len="$(max_len "$t")" -reload=0 \
      -close_fd_mask=2 -artifact_prefix="$findings/" -print_final_stats=1 "${extra[@]}" >"$log.part" 2>&1
    local rc=$? done_runs
    cat "$log.part" >>"$log"
    done_runs=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log.part" | tail -1 | awk '{ print $2 }')
    runs=$((runs + ${done_runs:-0}))
    rm -f "$log.part"
    local f
    f=$(grep -ao ' ft: [0-9]*' "$log" | tail -1 | awk '{ print $2 }')
    [ -n "$f" ] && ft=$f
    # libFuzzer stops at the first crash: go on with what is left, a few times at most, and
    # not when the crash was one already written (an input of the corpus itself).
    local artifacts
    artifacts=$(count_files "$findings" '*')
    if [ "$rc" = 0 ] || [ "$restarts" -ge 4 ] || [ "$artifacts" = "${last_artifacts:-}" ]; then break; fi
    last_artifacts=$artifacts
    if ! grep -aq 'Test unit written to' "$log"; then
      say "$t: libFuzzer failed without an artifact (exit $rc), see $log"; break
    fi
    restarts=$((restarts + 1))
    echo "=== restart $restarts after exit $rc ===" >>"$log"
  done
  now=$(date +%s.%N)
  elapsed=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  local crashes timeouts ooms
  crashes=$(( $(count_files "$findings" 'crash-*') - c0 ))
  timeouts=$(( $(count_files "$findings" 'timeout-*') - t0 ))
  ooms=$(( $(count_files "$findings" 'oom-*') + $(count_files "$findings" 'leak-*') - o0 ))
  printf '{"name":"%s","runs":%d,"seconds":%s,"crashes":%d,"timeouts":%d,"ooms":%d,"features":%d,"corpus":%d}\n' \
    "$t" "$runs" "$elapsed" "$crashes" "$timeouts" "$ooms" "$ft" "$(count_files "$corpus" '*')" > "$OUT/logs/$t.json"
  say "$t: $runs runs in $elapsed s, $ft features, corpus $(count_files "$corpus" '*'), crashes $crashes, timeouts $timeouts, ooms $ooms"
}

# replay_one TARGET: each committed regression input and each seed, once, in its own process.
replay_one() {
  local t="$1" bin="$OUT/fuzz_$1" reg="$HERE/regressions/$1" log="$OUT/logs/$1.replay.log"
  local seeds="$OUT/replay-seeds/$1" start runs=0 crashes=0 timeouts=0 f rc
  rm -rf "$seeds"; mkdir -p "$seeds"; : > "$log"
  FUZZ_SEED_DIR="$seeds" "$bin" >/dev/null 2>>"$log" || say "$t: writing its seeds failed"
  start=$(date +%s.%N)
  for f in "$reg"/* "$seeds"/*; do
    [ -f "$f" ] || continue
    runs=$((runs + 1))
    "$bin" -timeout=10 -rss_limit_mb=2048 "$f" >>"$log" 2>&1
    rc=$?
    if [ "$rc" != 0 ]; then
      if grep -q 'ALARM: working on the last Unit for' <(tail -40 "$log"); then timeouts=$((timeouts + 1)); else crashes=$((crashes + 1)); fi
      say "$t: FAILED on ${f#$ROOT/} (exit $rc), see ${log#$ROOT/}"
    fi
  done
  local elapsed
  elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  printf '{"name":"%s","runs":%d,"seconds":%s,"crashes":%d,"timeouts":%d,"ooms":0,"features":0,"corpus":%d}\n' \
    "$t" "$runs" "$elapsed" "$crashes" "$timeouts" "$(count_files "$reg" '*')" > "$OUT/logs/$t.json"
  say "$t: replayed $runs inputs in $elapsed s, $crashes failed, $timeouts hung"
}

run_target() { if [ "$mode" = replay ]; then replay_one "$1"; else fuzz_one "$1"; fi; }

say "mode $mode, seed $seed, targets: $targets ($jobs at a time)$([ ${#NOASLR[@]} = 0 ] && [ "$mode" = short ] && echo '; address randomisation stays on here: runs may differ slightly')"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
touch "$OUT/logs/.started"
for t in $targets; do rm -f "$OUT/logs/$t.json" "$OUT/logs/$t.log.seeds"; done
running=0
for t in $targets; do
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  run_target "$t" &
  running=$((running + 1))
done
wait

json="" status=0
for t in $targets; do
  line=$(cat "$OUT/logs/$t.json" 2>/dev/null) || line=""
  if [ -z "$line" ]; then
    line=$(printf '{"name":"%s","runs":0,"seconds":0,"crashes":1,"timeouts":0,"ooms":0,"features":0,"corpus":0}' "$t")
    say "$t: no figures (the harness did not run)"
  fi
  json="${json:+$json,}$line"
  if [[ "$line" =~ \"crashes\":([0-9]+),\"timeouts\":([0-9]+),\"ooms\":([0-9]+) ]] &&
     [ $(( BASH_REMATCH[1] + BASH_REMATCH[2] + BASH_REMATCH[3] )) -gt 0 ]; then status=1; fi
done
if [ "$status" != 0 ] && [ "$mode" != replay ]; then
  say "findings (reproduce: build/fuzz/native/fuzz_<target> <file>):"
  for t in $targets; do find "$OUT/findings/$t" -type f -newer "$OUT/logs/.started" 2>/dev/null | sed "s|^$ROOT/|  |" >&2; done
fi
echo "{\"targets\":[$json],\"seed\":$seed}"
exit "$status"
}
