/*
 * The ESP-IDF release the virtual board emulates (see ../README.md): v5.5.1,
 * the EXPECTED_ESP_IDF of Moddable SDK 6.x and 7.x. Device code that tests
 * ESP_IDF_VERSION takes the v5.5.1 branches.
 */
#ifndef VB_ESP_IDF_VERSION_H
#define VB_ESP_IDF_VERSION_H

#define ESP_IDF_VERSION_MAJOR   5
#define ESP_IDF_VERSION_MINOR   5
#define ESP_IDF_VERSION_PATCH   1

#define ESP_IDF_VERSION_VAL(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define ESP_IDF_VERSION ESP_IDF_VERSION_VAL(ESP_IDF_VERSION_MAJOR, ESP_IDF_VERSION_MINOR, ESP_IDF_VERSION_PATCH)

/* The string ESP-IDF puts in esp_app_desc_t.idf_ver and prints in its logs. */
#define IDF_VER "v5.5.1"

const char *esp_get_idf_version(void);

#endif
