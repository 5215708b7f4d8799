/*
 * ESP-IDF's log format on the board's UART (stdout): "I (123) tag: msg".
 * Each line is flushed at once, because the process can end at any flash
 * operation (power cut) and the UART output before it must have reached the
 * supervisor, as it would have left a real chip.
 */
#include <stdio.h>
#include <string.h>

#include "vb_internal.h"

#define MAX_TAG_LEVELS 16

static esp_log_level_t s_default_level = ESP_LOG_INFO;
static struct {
    char tag[24];
    esp_log_level_t level;
} s_tag_levels[MAX_TAG_LEVELS];
static int s_tag_level_count;

void vb_log_reset(void)
{
    s_default_level = ESP_LOG_INFO;
    s_tag_level_count = 0;
}

void esp_log_level_set(const char *tag, esp_log_level_t level)
{
    if (tag == NULL || strcmp(tag, "*") == 0) {
        s_default_level = level;
        s_tag_level_count = 0;
        return;
    }
    for (int i = 0; i < s_tag_level_count; i++) {
        if (strcmp(s_tag_levels[i].tag, tag) == 0) {
            s_tag_levels[i].level = level;
            return;
        }
    }
    if (s_tag_level_count < MAX_TAG_LEVELS) {
        snprintf(s_tag_levels[s_tag_level_count].tag, sizeof(s_tag_levels[0].tag), "%s", tag);
        s_tag_levels[s_tag_level_count].level = level;
        s_tag_level_count++;
    }
}

esp_log_level_t esp_log_level_get(const char *tag)
{
    for (int i = 0; tag != NULL && i < s_tag_level_count; i++) {
        if (strcmp(s_tag_levels[i].tag, tag) == 0) {
            return s_tag_levels[i].level;
        }
    }
    return s_default_level;
}

uint32_t esp_log_timestamp(void)
{
    return (uint32_t)(vb_clock_now_us() / 1000);
}

static void emit(char letter, const char *tag, const char *format, va_list args)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%c (%" PRIu32 ") %s: ", letter, esp_log_timestamp(), tag ? tag : "");
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(line)) {
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, format, args);
        if (m > 0) {
            n += m;
        }
    }
    if ((size_t)n >= sizeof(line) - 1) {
        n = (int)sizeof(line) - 2;
    }
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
}

void esp_log_writev(esp_log_level_t level, const char *tag, const char *format, va_list args)
{
    static const char letters[] = "NEWIDV";
    if (level == ESP_LOG_NONE || level >= ESP_LOG_MAX || level > esp_log_level_get(tag)) {
        return;
    }
    emit(letters[level], tag, format, args);
}

void esp_log_write(esp_log_level_t level, const char *tag, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    esp_log_writev(level, tag, format, args);
    va_end(args);
}
