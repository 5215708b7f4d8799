# xs-ota: the two commands that matter are `make sim` and `make test`.
# Each installs what it needs first (npm packages from package-lock.json,
# Debian packages through apt-get when missing).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build and tests use: 32-bit gcc for the virtual board
# (16-byte XS slots, as on the ESP32), socat for pseudo-terminal pairs,
# mosquitto for MQTT tests against a real broker.
DEBIAN_PACKAGES := gcc-multilib socat mosquitto mosquitto-clients unzip
NODE_STAMP := node_modules/.package-lock.json

.PHONY: help setup build typecheck vboard test sim bench esp32 flash hil clean

help:
	@echo "make sim      build the firmware and boot the virtual board"
	@echo "make test     run every test (installs what it needs)"
	@echo "make setup    install npm and Debian dependencies only"
	@echo "make build    type-check and build host tools and the virtual board"
	@echo "make bench    run the benchmarks, results in bench/results/"
	@echo "make esp32    build the firmware for a real ESP32 (needs \$$MODDABLE and ESP-IDF)"

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

typecheck: $(NODE_STAMP)
	npx tsc -p tsconfig.json
	npx tsc -p tsconfig.host.json

# The virtual board's program (32-bit XS host + emulated ESP-IDF + the native module).
vboard: setup
	$(MAKE) -s -C host/vboard

build: setup typecheck vboard

# C tests of the emulated ESP-IDF first (formats, bootloader, power cuts), then
# every TypeScript test (unit, CLI, the virtual board end to end), then the
# HIL conformance suite against the virtual board.
test: build
	$(MAKE) -s -C host/vboard/idf test
	npx mocha
	$(MAKE) -s hil

# SIM_ARGS passes options through, e.g. make sim SIM_ARGS="--http-port 9090 --clock virtual".
sim: build
	node host/cli/bin.js sim $(SIM_ARGS)

bench: build
	npx tsx --tsconfig tsconfig.json bench/run.ts

# The real-board build runs where Moddable and ESP-IDF are installed; say
# what is missing at once rather than failing deep inside mcconfig.
esp32:
	@if [ -z "$$MODDABLE" ] || [ ! -d "$$MODDABLE" ]; then \
	  echo "error: make esp32 needs the Moddable SDK: install it and set MODDABLE to its path," >&2; \
	  echo "       plus ESP-IDF with IDF_PATH set (see README, 'Real boards')." >&2; exit 2; fi
	@if [ -z "$$IDF_PATH" ]; then echo "error: make esp32 needs ESP-IDF: install it and source its export.sh (IDF_PATH is unset)" >&2; exit 2; fi
	@echo "error: the ESP32 build is not wired up yet" >&2; exit 2

# The HIL suite (hil-tests/): against the virtual board, or a rig board with
# BOARD=<id> (boards/rig.yaml). JUnit report and one log per test in build/hil/.
hil: build
	node hil-tests/run.mjs $(if $(BOARD),--board $(BOARD))

flash:
	@echo "error: make flash is not available yet" >&2; exit 2

clean:
	rm -rf build
