# xs-ota: the two commands that matter are `make sim` and `make test`.
# Each installs what it needs first (npm packages from package-lock.json,
# Debian packages through apt-get when missing).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build and tests use: 32-bit gcc for the virtual board
# (16-byte XS slots, as on the ESP32, where the kernel runs 32-bit programs),
# socat for pseudo-terminal pairs, mosquitto for MQTT tests against a real broker,
# curl and python3-websockets as third-party HTTP and WebSocket clients.
DEBIAN_PACKAGES := gcc-multilib socat mosquitto mosquitto-clients unzip curl python3-websockets
NODE_STAMP := node_modules/.package-lock.json

.PHONY: help setup build typecheck vboard test sim bench esp32 flash hil clean

help:
	@echo "make sim      build the firmware and boot the virtual board (VBOARD_BITS=32|64: its build; default: 32 where it runs)"
	@echo "make test     run every test (installs what it needs)"
	@echo "make setup    install npm and Debian dependencies only"
	@echo "make build    type-check and build host tools and the virtual board"
	@echo "make bench    run the benchmarks against their physical limits: one line per figure (value, limit, ratio, goal);"
	@echo "              each figure's history and plot in bench/results/<name>.json and .svg, index in bench/results/README.md"
	@echo "make fuzz     fuzz the native code and every channel of the virtual board (FUZZ_MODE=short|long, FUZZ_SEED=N)"
	@echo "make flash    flash a board over its ROM serial loader: PORT=/dev/ttyUSB0 (default: make sim's UART), FLASH_ARGS=..."
	@echo "make esp32    build and flash the firmware on a real board: BOARD=esp32|esp32s3|esp32c3 ESP32_MODE=debug|release"
	@echo "              (needs the Moddable SDK 7.x and ESP-IDF v5.5.1; see README.md, 'Real boards')"

setup: $(NODE_STAMP) debian-packages

# npm ci is exact to package-lock.json; install scripts stay off (package.json
# "allowScripts" denies them): serialport ships prebuilt bindings, and the XS
# engine is compiled by our own Makefile, not by @agoric/xsnap's postinstall.
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

.PHONY: debian-packages
debian-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "error: need root or sudo to install: $$missing" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Type checks of the firmware, the host tools and the ESP32 adapters, again
# only when a TypeScript source or config changed: a warm `make sim` starts in
# seconds.
TS_SOURCES := $(shell find main.ts modules host hil-tests test bench -name '*.ts' 2>/dev/null) \
	$(wildcard tsconfig*.json) package-lock.json
TYPECHECK_STAMP := build/typecheck.stamp
typecheck: $(TYPECHECK_STAMP)
$(TYPECHECK_STAMP): $(NODE_STAMP) $(TS_SOURCES)
	npx tsc -p tsconfig.json
	npx tsc -p tsconfig.host.json
	npx tsc -p tsconfig.esp32.json
	@mkdir -p $(dir $@) && touch $@

# The virtual board's program (XS host + emulated ESP-IDF + the native module):
# 32-bit where this machine runs 32-bit programs, else 64-bit
# (host/vboard/probe-bits.sh runs one to find out); VBOARD_BITS=32|64 decides.
VBOARD_BITS ?= $(shell host/vboard/probe-bits.sh)
vboard: setup
	$(MAKE) -s -C host/vboard VBOARD_BITS=$(VBOARD_BITS)

build: setup typecheck vboard

# C tests of the emulated ESP-IDF first (formats, bootloader, power cuts), then
# every TypeScript test (unit, CLI, the virtual board end to end), then the
# HIL conformance suite against the virtual board. Where the board is 32-bit,
# the HIL suite runs again on the 64-bit build, which other machines run.
test: build
	$(MAKE) -s -C host/vboard/idf test
	npx mocha
	$(MAKE) -s fuzz-replay
	$(MAKE) -s fuzz FUZZ_MODE=short FUZZ_OUT=build/fuzz/fuzz.json
	$(MAKE) -s hil
	@if [ "$(VBOARD_BITS)" = 32 ]; then \
	  echo "HIL suite on the 64-bit virtual board:"; \
	  $(MAKE) -s -C host/vboard VBOARD_BITS=64 && \
	  VBOARD_BITS=64 HIL_REPORT_DIR=build/hil/64-bit node hil-tests/run.mjs; fi

# SIM_ARGS passes options through, e.g. make sim SIM_ARGS="--http-port 9090 --clock virtual".
sim: build
	node host/cli/bin.js sim $(SIM_ARGS)

# The benchmarks (bench/run.ts lists them), each figure against the physical
# limit it is measured by, appended to its history in bench/results/ and
# plotted there (bench/results/README.md indexes them). Under 10 minutes from
# a fresh clone; the heap benchmark takes about a minute of that.
bench: build
	npx tsx --tsconfig tsconfig.json bench/run.ts

# The fuzzers (host/fuzz/README.md), bounded and seeded: the native libFuzzer
# targets (host/fuzz/native/) first, then every RPC channel of the virtual
# board through its real transport (UART, HTTP, WebSocket, MQTT via
# mosquitto) and fw.zip packages through OTA.Update and the push API
# (host/fuzz/run.ts). FUZZ_MODE=short (CI: about 1.5 minutes) or long (by hand:
# 10,000 cases per transport, about 40 minutes); FUZZ_SEED picks the run.
# Results in FUZZ_OUT (bench/results/fuzz.json; make test keeps its run in
# build/), inputs of findings in build/fuzz/findings/. fuzz-replay delivers
# the kept findings (host/fuzz/regressions/) again. make test runs both.
FUZZ_MODE ?= short
FUZZ_SEED ?= 1
FUZZ_OUT ?= bench/results/fuzz.json
.PHONY: fuzz fuzz-replay
fuzz: build
	@mkdir -p build/fuzz/native; status=0; \
	if [ -x host/fuzz/native/run.sh ]; then \
	  host/fuzz/native/run.sh --$(FUZZ_MODE) --seed $(FUZZ_SEED) | tee build/fuzz/native/run.log; \
	  [ $${PIPESTATUS[0]} = 0 ] || status=1; \
	  tail -1 build/fuzz/native/run.log > build/fuzz/native/summary.json; fi; \
	npx tsx host/fuzz/run.ts --mode $(FUZZ_MODE) --seed $(FUZZ_SEED) --out $(FUZZ_OUT) || status=1; \
	exit $$status

fuzz-replay: build
	npx tsx host/fuzz/replay.ts

# The real-board build: Moddable SDK 7.x (mcconfig) with ESP-IDF v5.5.1, the
# pair host/vboard/idf/README.md pins. BOARD picks boards/<BOARD>/ (esp32,
# the default; esp32s3; esp32c3); ESP32_MODE is debug (xsbug owns UART0: RPC
# over HTTP/WebSocket), release (RPC on UART0, what the HIL rig runs) or
# instrumented; MC_TARGET=build builds without flashing; MC_CONFIG passes
# settings, e.g. MC_CONFIG="wifiSsid=lab wifiPassword=secret mqttServer=10.0.0.5".
# Moddable 7.x has no custom subplatform directories (-p esp32:<dir> is 8.1+),
# so the board folder comes in through manifest.json's esp32 include of
# boards/$(XS_OTA_BOARD)/manifest.json. Whatever is missing is said at once,
# not deep inside mcconfig.
ESP32_BOARDS := esp32 esp32s3 esp32c3
MC_PLATFORM.esp32 := esp32
MC_PLATFORM.esp32s3 := esp32/esp32s3
MC_PLATFORM.esp32c3 := esp32/esp32c3
MC_MODE.debug := -d
MC_MODE.release :=
MC_MODE.instrumented := -i
MC_OUT.debug := debug
MC_OUT.release := release
MC_OUT.instrumented := instrument

esp32: ESP32_BOARD = $(or $(BOARD),esp32)
esp32: ESP32_MODE ?= debug
esp32:
	@if [ -z "$(filter $(ESP32_BOARD),$(ESP32_BOARDS))" ]; then \
	  echo "error: unknown BOARD=$(ESP32_BOARD): boards/ has $(ESP32_BOARDS)" >&2; exit 2; fi
	@if [ -z "$(filter $(ESP32_MODE),debug release instrumented)" ]; then \
	  echo "error: unknown ESP32_MODE=$(ESP32_MODE): use debug, release or instrumented" >&2; exit 2; fi
	@if [ -z "$$MODDABLE" ] || [ ! -d "$$MODDABLE/build/devices/esp32" ]; then \
	  echo "error: make esp32 needs the Moddable SDK 7.x and ESP-IDF v5.5.1 (MODDABLE is $${MODDABLE:-unset}):" >&2; \
	  echo "  Moddable: git clone -b 7.2.1 https://github.com/Moddable-OpenSource/moddable, build its Linux tools" >&2; \
	  echo "    (make -C build/makefiles/lin), export MODDABLE=<that directory> and PATH=\$$MODDABLE/build/bin/lin/release:\$$PATH" >&2; \
	  echo "  ESP-IDF: git clone -b v5.5.1 --recursive https://github.com/espressif/esp-idf, ./install.sh esp32,esp32s3,esp32c3," >&2; \
	  echo "    then source its export.sh (\$$MODDABLE/documentation/devices/esp32.md; README.md, 'Real boards')" >&2; exit 2; fi
	@command -v mcconfig >/dev/null || { \
	  echo "error: mcconfig is not on PATH: build the Moddable tools and add \$$MODDABLE/build/bin/lin/release to PATH" >&2; exit 2; }
	@if [ -z "$$IDF_PATH" ] || ! command -v idf.py >/dev/null; then \
	  echo "error: make esp32 needs ESP-IDF v5.5.1 in the environment: source its export.sh (IDF_PATH is $${IDF_PATH:-unset})" >&2; exit 2; fi
	@[ -x node_modules/.bin/tsc ] || $(MAKE) -s $(NODE_STAMP)
	XS_OTA_BOARD=$(ESP32_BOARD) PATH="$(CURDIR)/node_modules/.bin:$$PATH" \
	  mcconfig $(MC_MODE.$(ESP32_MODE)) -m $(if $(MC_TARGET),-t $(MC_TARGET)) -p $(MC_PLATFORM.$(ESP32_BOARD)) $(MC_CONFIG) ./manifest.json
	@echo "app image:  $$MODDABLE/build/bin/$(MC_PLATFORM.$(ESP32_BOARD))/$(MC_OUT.$(ESP32_MODE))/xs-ota/xs_esp32.bin"
	@echo "package it: npx xs-ota build --board $(ESP32_BOARD) --moddable-out $$MODDABLE/build/tmp/$(MC_PLATFORM.$(ESP32_BOARD))/$(MC_OUT.$(ESP32_MODE))/xs-ota/xsProj-$(ESP32_BOARD)/build --out build/$(ESP32_BOARD)"

# The HIL suite (hil-tests/): against the virtual board, or a rig board with
# BOARD=<id> (boards/rig.yaml). JUnit report and one log per test in build/hil/.
hil: build
	node hil-tests/run.mjs $(if $(BOARD),--board $(BOARD))

# xs-ota flash through the ROM serial loader: PORT is the board's serial port
# (default: the UART of a running make sim); FLASH_ARGS passes options, e.g.
# make flash PORT=/dev/ttyUSB0 FLASH_ARGS="--erase --image build/v2/app.bin".
flash: build
	node host/cli/bin.js --port $(or $(PORT),build/vboard/uart) flash $(FLASH_ARGS)

clean:
	rm -rf build
