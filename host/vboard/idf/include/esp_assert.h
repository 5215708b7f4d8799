/* ESP_STATIC_ASSERT as in ESP-IDF (components/esp_common/include/esp_assert.h), for C and C++. */
#ifndef VB_ESP_ASSERT_H
#define VB_ESP_ASSERT_H

#ifdef __cplusplus
#define ESP_STATIC_ASSERT static_assert
#else
#define ESP_STATIC_ASSERT _Static_assert
#endif

#endif
