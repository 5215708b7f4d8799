/*
 * The part of mbedtls/sha1.h (mbedTLS 3.x) that device code uses: fw.zip
 * manifests carry cs_sha1 digests of their parts.
 */
#ifndef VB_MBEDTLS_SHA1_H
#define VB_MBEDTLS_SHA1_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t state[5];
	uint64_t length;
	uint8_t block[64];
	size_t used;
} mbedtls_sha1_context;

void mbedtls_sha1_init(mbedtls_sha1_context *ctx);
void mbedtls_sha1_free(mbedtls_sha1_context *ctx);
int mbedtls_sha1_starts(mbedtls_sha1_context *ctx);
int mbedtls_sha1_update(mbedtls_sha1_context *ctx, const unsigned char *input, size_t ilen);
int mbedtls_sha1_finish(mbedtls_sha1_context *ctx, unsigned char output[20]);

#endif
