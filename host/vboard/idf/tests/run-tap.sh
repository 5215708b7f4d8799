#!/bin/bash
# run-tap.sh NAME BINARY...: runs each TAP test binary, prints its TAP, and
# ends with "NAME: P passed, F failed". A binary that cannot start, crashes,
# or ends before its plan ("1..N") is accounted for is counted as failed,
# never as "0 failed".
set -u
name=$1
shift
passed=0
failed=0
for bin in "$@"; do
	echo "# $bin"
	tap=$(basename "$bin").tap
	"$bin" > "$tap" 2> "$tap.err"
	rc=$?
	cat "$tap"
	ok=$(grep -c '^ok ' "$tap")
	not_ok=$(grep -c '^not ok ' "$tap")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$tap" | tail -n 1)
	passed=$((passed + ok))
	failed=$((failed + not_ok))
	if [ -z "$plan" ] || [ $((ok + not_ok)) -ne "$plan" ]; then
		missing=$(( ${plan:-0} - ok - not_ok ))
		[ "$missing" -gt 0 ] || missing=1
		failed=$((failed + missing))
		echo "# $bin did not finish (exit $rc, plan ${plan:-missing}, $ok ok, $not_ok not ok): $(head -c 300 "$tap.err")"
	elif [ "$rc" -ne 0 ] && [ "$not_ok" -eq 0 ]; then
		failed=$((failed + 1))
		echo "# $bin exited with $rc although its TAP says every test passed: $(head -c 300 "$tap.err")"
	fi
done
echo "$name: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
