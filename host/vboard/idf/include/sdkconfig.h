/*
 * The configuration the virtual board emulates. Only the options that change
 * behaviour of the emulated components are here; see ../README.md.
 */
#ifndef VB_SDKCONFIG_H
#define VB_SDKCONFIG_H

#define CONFIG_IDF_TARGET "esp32"
#define CONFIG_IDF_TARGET_ESP32 1
/* Not ESP32's 0: the virtual board's own chip id (host/fwpack/README.md), so
   that its images and a real ESP32's refuse each other's apps. */
#define CONFIG_IDF_FIRMWARE_CHIP_ID 0x4256
#define CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE 1
#define CONFIG_BOOTLOADER_OFFSET_IN_FLASH 0x1000
#define CONFIG_PARTITION_TABLE_OFFSET 0x8000
#define CONFIG_PARTITION_TABLE_MD5 1
#define CONFIG_ESPTOOLPY_FLASHSIZE_4MB 1
#define CONFIG_ESPTOOLPY_FLASHSIZE "4MB"
#define CONFIG_LOG_DEFAULT_LEVEL 3
#define CONFIG_LOG_MAXIMUM_LEVEL 3
#define CONFIG_ESP_MAC_UNIVERSAL_MAC_ADDRESSES 4
#define CONFIG_FREERTOS_HZ 100

#endif
