/*
 * The part of mbedtls/sha256.h (mbedTLS 3.x, ESP-IDF's mbedtls component)
 * that device code uses, over the virtual board's own SHA-256.
 */
#ifndef VB_MBEDTLS_SHA256_H
#define VB_MBEDTLS_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "vb_idf.h"

typedef struct {
	vb_sha256_ctx_t vb;
} mbedtls_sha256_context;

void mbedtls_sha256_init(mbedtls_sha256_context *ctx);
void mbedtls_sha256_free(mbedtls_sha256_context *ctx);
/* is224 must be 0: only SHA-256 is emulated. */
int mbedtls_sha256_starts(mbedtls_sha256_context *ctx, int is224);
int mbedtls_sha256_update(mbedtls_sha256_context *ctx, const unsigned char *input, size_t ilen);
int mbedtls_sha256_finish(mbedtls_sha256_context *ctx, unsigned char output[32]);

#endif
