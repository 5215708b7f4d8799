/*
 * mbedTLS's SHA-1 and SHA-256 entry points for device code: SHA-256 over
 * vb_sha256.c, SHA-1 implemented here (FIPS 180-4), since fw.zip manifests
 * carry cs_sha1 of every part.
 */
#include <string.h>
#include "mbedtls/sha1.h"
#include "mbedtls/sha256.h"

void mbedtls_sha256_init(mbedtls_sha256_context *ctx) { memset(ctx, 0, sizeof(*ctx)); }
void mbedtls_sha256_free(mbedtls_sha256_context *ctx) { memset(ctx, 0, sizeof(*ctx)); }

int mbedtls_sha256_starts(mbedtls_sha256_context *ctx, int is224)
{
	if (is224)
		return -1;
	vb_sha256_init(&ctx->vb);
	return 0;
}

int mbedtls_sha256_update(mbedtls_sha256_context *ctx, const unsigned char *input, size_t ilen)
{
	vb_sha256_update(&ctx->vb, input, ilen);
	return 0;
}

int mbedtls_sha256_finish(mbedtls_sha256_context *ctx, unsigned char output[32])
{
	vb_sha256_final(&ctx->vb, output);
	return 0;
}

static uint32_t rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t s[5], const uint8_t *p)
{
	uint32_t w[80], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
	int i;
	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (i = 0; i < 80; i++) {
		uint32_t f, k, t;
		if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
		else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
		else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
		else { f = b ^ c ^ d; k = 0xCA62C1D6; }
		t = rol(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol(b, 30); b = a; a = t;
	}
	s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e;
}

void mbedtls_sha1_init(mbedtls_sha1_context *ctx) { memset(ctx, 0, sizeof(*ctx)); }
void mbedtls_sha1_free(mbedtls_sha1_context *ctx) { memset(ctx, 0, sizeof(*ctx)); }

int mbedtls_sha1_starts(mbedtls_sha1_context *ctx)
{
	static const uint32_t init[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	memcpy(ctx->state, init, sizeof(init));
	ctx->length = 0;
	ctx->used = 0;
	return 0;
}

int mbedtls_sha1_update(mbedtls_sha1_context *ctx, const unsigned char *input, size_t ilen)
{
	ctx->length += ilen;
	while (ilen > 0) {
		size_t take = 64 - ctx->used < ilen ? 64 - ctx->used : ilen;
		memcpy(ctx->block + ctx->used, input, take);
		ctx->used += take;
		input += take;
		ilen -= take;
		if (ctx->used == 64) {
			sha1_block(ctx->state, ctx->block);
			ctx->used = 0;
		}
	}
	return 0;
}

int mbedtls_sha1_finish(mbedtls_sha1_context *ctx, unsigned char output[20])
{
	uint64_t bits = ctx->length * 8;
	uint8_t pad = 0x80, zero = 0, len[8];
	int i;
	mbedtls_sha1_update(ctx, &pad, 1);
	while (ctx->used != 56)
		mbedtls_sha1_update(ctx, &zero, 1);
	for (i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	mbedtls_sha1_update(ctx, len, 8);
	for (i = 0; i < 5; i++) {
		output[4 * i] = (uint8_t)(ctx->state[i] >> 24);
		output[4 * i + 1] = (uint8_t)(ctx->state[i] >> 16);
		output[4 * i + 2] = (uint8_t)(ctx->state[i] >> 8);
		output[4 * i + 3] = (uint8_t)ctx->state[i];
	}
	return 0;
}
