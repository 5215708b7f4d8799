#!/bin/sh
# Which virtual board this machine runs: 32 (the ESP32's 16-byte XS slots)
# when it can build AND run a 32-bit program, else 64. Decided by running a
# probe binary, never by compiling one: many kernels (VMs, containers, WSL)
# build -m32 programs and then refuse them with "Exec format error".
#
#   probe-bits.sh            prints 32 or 64
#   probe-bits.sh --explain  prints the same, a space, and why
set -u
CC=${CC:-cc}
dir=$(mktemp -d "${TMPDIR:-/tmp}/xs-ota-probe.XXXXXX") || { echo "64 cannot create a temporary directory"; exit 0; }
trap 'rm -rf "$dir"' EXIT

answer() {
	if [ "${1:-}" = --explain ]; then echo "$2 $3"; else echo "$2"; fi
	exit 0
}

printf '#include <stdio.h>\nint main(void) { printf("%%d\\n", (int)(sizeof(void *) * 8)); return 0; }\n' > "$dir/probe.c"
if ! "$CC" -m32 -o "$dir/probe32" "$dir/probe.c" 2> "$dir/cc.err"; then
	answer "${1:-}" 64 "$CC cannot build 32-bit programs (Debian: apt-get install gcc-multilib)"
fi
# bash names the OS error (sh would try the binary as a script on ENOEXEC).
out=$(bash -c '"$0"' "$dir/probe32" 2> "$dir/run.err")
if [ "$out" = 32 ]; then
	answer "${1:-}" 32 "this machine runs 32-bit programs"
fi
why=$(sed -n 's/.*: \([^:]*\)$/\1/p' "$dir/run.err" | head -n 1)
answer "${1:-}" 64 "this kernel cannot run 32-bit programs (${why:-the probe printed \"$out\"})"
