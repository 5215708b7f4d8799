/*
 * SHA-1 and SHA-256 from FIPS 180-4: the same 64-byte blocks and length
 * padding, two compression functions.
 */
#include <string.h>

#include "xsota_sha.h"

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }
static uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static uint32_t big_endian(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void sha1_block(uint32_t s[5], const uint8_t *p)
{
	uint32_t w[80], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
	int i;
	for (i = 0; i < 16; i++)
		w[i] = big_endian(p + 4 * i);
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

static void sha256_block(uint32_t s[8], const uint8_t *p)
{
	uint32_t w[64], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
	int i;
	for (i = 0; i < 16; i++)
		w[i] = big_endian(p + 4 * i);
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
		       (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	for (i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e; s[5] += f; s[6] += g; s[7] += h;
}

void xsota_sha_start(xsota_sha_t *sha, int sha256)
{
	static const uint32_t init1[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	static const uint32_t init256[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	memset(sha, 0, sizeof(*sha));
	sha->sha256 = sha256;
	if (sha256)
		memcpy(sha->state, init256, sizeof(init256));
	else
		memcpy(sha->state, init1, sizeof(init1));
}

void xsota_sha_update(xsota_sha_t *sha, const void *data, size_t length)
{
	const uint8_t *p = data;
	sha->length += length;
	while (length > 0) {
		size_t take = 64 - sha->used < length ? 64 - sha->used : length;
		memcpy(sha->block + sha->used, p, take);
		sha->used += take;
		p += take;
		length -= take;
		if (sha->used == 64) {
			if (sha->sha256)
				sha256_block(sha->state, sha->block);
			else
				sha1_block(sha->state, sha->block);
			sha->used = 0;
		}
	}
}

size_t xsota_sha_finish(xsota_sha_t *sha, uint8_t digest[32])
{
	static const uint8_t pad = 0x80, zero = 0;
	uint64_t bits = sha->length * 8;
	uint8_t length[8];
	size_t words = sha->sha256 ? 8 : 5, i;
	xsota_sha_update(sha, &pad, 1);
	while (sha->used != 56)
		xsota_sha_update(sha, &zero, 1);
	for (i = 0; i < 8; i++)
		length[i] = (uint8_t)(bits >> (56 - 8 * i));
	xsota_sha_update(sha, length, 8);
	for (i = 0; i < words; i++) {
		digest[4 * i] = (uint8_t)(sha->state[i] >> 24);
		digest[4 * i + 1] = (uint8_t)(sha->state[i] >> 16);
		digest[4 * i + 2] = (uint8_t)(sha->state[i] >> 8);
		digest[4 * i + 3] = (uint8_t)sha->state[i];
	}
	return words * 4;
}
