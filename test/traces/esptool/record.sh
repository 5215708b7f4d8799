#!/usr/bin/env bash
# Records what real esptool and ESP-IDF's otatool.py/parttool.py exchange
# with the virtual board over its RFC 2217 port, as the traces that
# test/esptool-traces.test.ts replays in CI. Nothing of those tools is in
# this repository; run it where they are (docs/interop.md, "esptool and
# ESP-IDF's scripts against the virtual board", says how they were set up):
#
#   ESPTOOL_SRC=/tmp/esptool IDF_PATH=/tmp/idf test/traces/esptool/record.sh [TRACE...]
#
# TRACE: chip-id-50, read-flash, write-flash, idf-scripts (default: all).
#
# ESPTOOL_SRC: an esptool v4.x source tree (python3 -m esptool runs from it,
# with Debian's python3-serial, -bitstring, -ecdsa, -intelhex, -cryptography;
# PYTHON names that interpreter, default Debian's /usr/bin/python3).
# IDF_PATH: ESP-IDF's components/{partition_table,app_update,esptool_py}.
# Each trace is one board: the sim is started afresh with a factory flash at
# a fixed path (its MAC is derived from that path, so replays use it too).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=test/traces/esptool
WORK=/tmp/xs-ota-esptool-traces
PORT=${RFC2217_PORT:-4321}
URL="rfc2217://127.0.0.1:$PORT"
: "${ESPTOOL_SRC:?an esptool v4.x source tree}" "${IDF_PATH:?ESP-IDF components (partition_table, app_update, esptool_py)}"
export PYTHONPATH="$ESPTOOL_SRC"
PYTHON=${PYTHON:-/usr/bin/python3}
esptool() { "$PYTHON" -m esptool --port "$URL" "$@"; }

SIM_PID=
start_sim() { # name: a fresh factory board recording to $OUT/name.jsonl
  stop_sim
  rm -rf "$WORK" && mkdir -p "$WORK"
  rm -f "$OUT/$1.jsonl" "$OUT/$1.jsonl.gz"
  node host/cli/bin.js sim --fresh --flash "$WORK/flash.bin" --uart-link "$WORK/uart" --http-port 0 \
    --rfc2217-port "$PORT" --uart-trace "$OUT/$1.jsonl" >"$WORK/sim.log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 120); do grep -q '^mqtt:' "$WORK/sim.log" && return; sleep 0.5; done
  echo "the sim did not start: $(tail -5 "$WORK/sim.log")" >&2
  exit 1
}
stop_sim() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null || true
  SIM_PID=
}
finish() { # name: compress the trace, keep the tool's output beside it
  stop_sim
  gzip -9n "$OUT/$1.jsonl"
}
http_url() { sed -n 's/^http: //p' "$WORK/sim.log" | tail -1; }
trap stop_sim EXIT

# chip_id without --chip, 50 times in a row on one board.
chip-id-50() {
start_sim chip-id-50
ok=0
for i in $(seq 50); do
  if esptool chip_id >"$WORK/chip_id.$i.log" 2>&1 && grep -q '^Chip is ESP32-D0WD-V3' "$WORK/chip_id.$i.log"; then ok=$((ok + 1)); fi
done
echo "chip_id: $ok of 50 succeeded" | tee "$OUT/chip-id-50.txt"
tail -n +1 "$WORK/chip_id.50.log" >>"$OUT/chip-id-50.txt"
finish chip-id-50
}

# read_flash of the partition table, with the stub (READ_FLASH) and the ROM (READ_FLASH_SLOW).
read-flash() {
start_sim read-flash
esptool read_flash 0x8000 0xc00 "$WORK/pt-stub.bin" >"$OUT/read-flash.txt" 2>&1
esptool --no-stub read_flash 0x8000 0xc00 "$WORK/pt-rom.bin" >>"$OUT/read-flash.txt" 2>&1
dd if="$WORK/flash.bin" of="$WORK/pt-file.bin" bs=1 skip=$((0x8000)) count=$((0xc00)) status=none
cmp "$WORK/pt-stub.bin" "$WORK/pt-file.bin" && cmp "$WORK/pt-rom.bin" "$WORK/pt-file.bin"
echo "both reads equal the flash file's 0x8000..0x8c00 (sha256 $(sha256sum <"$WORK/pt-file.bin" | cut -c1-16))" | tee -a "$OUT/read-flash.txt"
finish read-flash
}

# write_flash of another build's app into ota_0, then --after hard_reset (esptool's default). esptool
# refuses it first: the image carries the virtual board's chip id; --force writes it anyway.
write-flash() {
start_sim write-flash
node host/cli/bin.js build --version 9.9.9-trace --out "$WORK/build" >/dev/null
if esptool write_flash 0x10000 "$WORK/build/app.bin" >"$OUT/write-flash.txt" 2>&1; then
  echo "esptool wrote a virtual-board image without --force" >&2
  exit 1
fi
esptool write_flash --force 0x10000 "$WORK/build/app.bin" >>"$OUT/write-flash.txt" 2>&1
start=$(date +%s.%N)
for _ in $(seq 100); do
  version=$(curl -s --max-time 1 "$(http_url)/Sys.GetInfo" | python3 -c 'import json,sys; print(json.load(sys.stdin)["fw_version"])' 2>/dev/null || true)
  [ "$version" = 9.9.9-trace ] && break
  sleep 0.1
done
echo "after hard_reset the board runs fw_version ${version:-nothing} ($(python3 -c "import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 2))" "$(date +%s.%N)" "$start") s after esptool exited)" | tee -a "$OUT/write-flash.txt"
finish write-flash
}

# ESP-IDF's parttool.py and otatool.py, which run esptool themselves.
idf-scripts() {
start_sim idf-scripts
{
  "$PYTHON" "$IDF_PATH/components/partition_table/parttool.py" --port "$URL" get_partition_info --partition-name ota_0 --info offset size
  "$PYTHON" "$IDF_PATH/components/partition_table/parttool.py" --port "$URL" read_partition --partition-type data --partition-subtype nvs --output "$WORK/nvs.bin"
  "$PYTHON" "$IDF_PATH/components/app_update/otatool.py" --port "$URL" read_otadata
  "$PYTHON" "$IDF_PATH/components/app_update/otatool.py" --port "$URL" erase_otadata
  "$PYTHON" "$IDF_PATH/components/app_update/otatool.py" --port "$URL" read_otadata
} >"$OUT/idf-scripts.txt" 2>&1
finish idf-scripts
}

for trace in "${@:-chip-id-50 read-flash write-flash idf-scripts}"; do
  for name in $trace; do "$name"; done
done
