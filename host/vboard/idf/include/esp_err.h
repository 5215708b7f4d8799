/*
 * esp_err.h for the virtual board: the error type and codes of ESP-IDF v5.5.1
 * (components/esp_common/include/esp_err.h), so device code compiles unchanged.
 */
#ifndef VB_ESP_ERR_H
#define VB_ESP_ERR_H

#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int esp_err_t;

#define ESP_OK          0
#define ESP_FAIL        -1

#define ESP_ERR_NO_MEM              0x101
#define ESP_ERR_INVALID_ARG         0x102
#define ESP_ERR_INVALID_STATE       0x103
#define ESP_ERR_INVALID_SIZE        0x104
#define ESP_ERR_NOT_FOUND           0x105
#define ESP_ERR_NOT_SUPPORTED       0x106
#define ESP_ERR_TIMEOUT             0x107
#define ESP_ERR_INVALID_RESPONSE    0x108
#define ESP_ERR_INVALID_CRC         0x109
#define ESP_ERR_INVALID_VERSION     0x10A
#define ESP_ERR_INVALID_MAC         0x10B
#define ESP_ERR_NOT_FINISHED        0x10C
#define ESP_ERR_NOT_ALLOWED         0x10D

#define ESP_ERR_WIFI_BASE           0x3000
#define ESP_ERR_MESH_BASE           0x4000
#define ESP_ERR_FLASH_BASE          0x6000
#define ESP_ERR_HW_CRYPTO_BASE      0xc000
#define ESP_ERR_MEMPROT_BASE        0xd000

/* spi_flash_mmap.h in ESP-IDF; here because every flash error surfaces through esp_err_t. */
#define ESP_ERR_FLASH_OP_FAIL    (ESP_ERR_FLASH_BASE + 1)
#define ESP_ERR_FLASH_OP_TIMEOUT (ESP_ERR_FLASH_BASE + 2)

/* Name of a known code, or "UNKNOWN ERROR" (ESP-IDF prints the same string). */
const char *esp_err_to_name(esp_err_t code);
const char *esp_err_to_name_r(esp_err_t code, char *buf, size_t buflen);

void vb_esp_error_check_failed(esp_err_t rc, const char *file, int line, const char *function, const char *expression)
    __attribute__((noreturn));

#define ESP_ERROR_CHECK(x) do {                                                   \
        esp_err_t err_rc_ = (x);                                                  \
        if (err_rc_ != ESP_OK) {                                                  \
            vb_esp_error_check_failed(err_rc_, __FILE__, __LINE__, __func__, #x); \
        }                                                                         \
    } while (0)

#define ESP_ERROR_CHECK_WITHOUT_ABORT(x) ({                                     \
        esp_err_t err_rc_ = (x);                                                \
        if (err_rc_ != ESP_OK) {                                                \
            fprintf(stderr, "ESP_ERROR_CHECK_WITHOUT_ABORT failed: esp_err_t 0x%x (%s) at %s:%d: %s\n", \
                    err_rc_, esp_err_to_name(err_rc_), __FILE__, __LINE__, #x); \
        }                                                                       \
        err_rc_;                                                                \
    })

#ifdef __cplusplus
}
#endif

#endif
