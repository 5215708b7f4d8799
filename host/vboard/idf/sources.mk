# The emulated ESP-IDF, for whoever links it (host/vboard's Makefile, the tests).
# Include this file, then compile $(VB_IDF_SRCS) with $(VB_IDF_CFLAGS).
VB_IDF_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VB_IDF_SRCS := $(addprefix $(VB_IDF_DIR)/, \
	vb_bootloader.c vb_crc32.c vb_flash.c vb_image.c vb_log.c vb_md5.c vb_nvs.c \
	vb_ota_ops.c vb_otadata.c vb_partition.c vb_partition_table.c \
	vb_system.c vb_timer.c) \
	$(abspath $(VB_IDF_DIR)/../../../modules/esp32/xsota_sha.c)
# The SHA-256 is the device module's own (modules/esp32/xsota_sha.c).
VB_IDF_CFLAGS := -std=gnu11 -I$(VB_IDF_DIR)/include -I$(VB_IDF_DIR) -I$(abspath $(VB_IDF_DIR)/../../../modules/esp32)
