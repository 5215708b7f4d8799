/*
 * Streaming SHA-1 and SHA-256 (FIPS 180-4) for the digest check of written
 * parts. Ours, not mbedTLS: ESP-IDF builds mbedTLS with its hardware SHA
 * (larger *_ALT contexts, configured through MBEDTLS_CONFIG_FILE), which
 * Moddable's compile of this module does not see, so a context declared here
 * from mbedTLS's headers would be too small for the library that fills it.
 * This context is defined and used by the same compile.
 */
#ifndef XSOTA_SHA_H
#define XSOTA_SHA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t state[8];
	uint64_t length;
	uint8_t block[64];
	size_t used;
	int sha256;
} xsota_sha_t;

/* sha256: nonzero for SHA-256, zero for SHA-1. */
void xsota_sha_start(xsota_sha_t *sha, int sha256);
void xsota_sha_update(xsota_sha_t *sha, const void *data, size_t length);
/* Writes the digest (20 or 32 bytes) and returns its length. */
size_t xsota_sha_finish(xsota_sha_t *sha, uint8_t digest[32]);

#endif
