# The XS engine and the virtual board's XS host, as the board builds them,
# for whoever links them (host/vboard's Makefile, the native fuzzer). Include
# this file, then compile $(XS_ENGINE_SRCS) and $(XS_HOST_SRCS) with
# $(XS_ENGINE_DEFINES) $(XS_ENGINE_INCLUDES), and link with
# $(XS_HOST_LDFLAGS). The engine comes from
# node_modules/@agoric/xsnap (npm install first); it is never copied here.

XS_HOST_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
XS_ROOT := $(abspath $(XS_HOST_DIR)/../../..)
MODDABLE := $(XS_ROOT)/node_modules/@agoric/xsnap/moddable
XS := $(MODDABLE)/xs

# XS configuration (spec/xs-host.md 6.1), plus bounds checks so that a deep
# recursion is a "stack overflow" panic rather than memory corruption.
# Not mxHostFunctionPrimitive (Moddable's device builds use it): in XS 13.3
# `typeof` of such a function is broken.
XS_ENGINE_DEFINES := \
	-DINCLUDE_XSPLATFORM \
	-DXSPLATFORM='"vb_platform.h"' \
	-DmxParse=1 \
	-DmxRun=1 \
	-DmxSloppy=1 \
	-DmxRegExpUnicodePropertyEscapes=1 \
	-DmxStringNormalize=1 \
	-DmxMinusZero=1 \
	-DmxNoConsole=1 \
	-DmxBoundsCheck=1

XS_ENGINE_INCLUDES := \
	-I$(XS_HOST_DIR) \
	-I$(XS_ROOT)/host/vboard/idf/include \
	-I$(XS_ROOT)/modules/esp32 \
	-I$(XS)/includes \
	-I$(XS)/platforms \
	-I$(XS)/sources

XS_ENGINE_SRCS := $(wildcard $(XS)/sources/*.c)
# The machine, the module loader and the platform hooks.
XS_HOST_SRCS := $(wildcard $(XS_HOST_DIR)/*.c)
# What a program that links them needs at link time: vb_machine.c keeps the
# stack XS asks glibc for in place of glibc's own pthread_getattr_np.
XS_HOST_LDFLAGS := -Wl,--wrap=pthread_getattr_np
