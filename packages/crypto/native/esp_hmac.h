/*
 * HMAC-SHA-2 for ESP integrity (RFC 4868), keyed once per SA and run per packet without allocating.
 */
#ifndef ESPRESSO_ESP_HMAC_H
#define ESPRESSO_ESP_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define ESP_HMAC_MAX_OUT 64

typedef enum { ESP_HASH_SHA256 = 1, ESP_HASH_SHA384 = 2, ESP_HASH_SHA512 = 3 } esp_hash;

typedef struct esp_hmac esp_hmac;

/* Returns NULL when the hash is unknown or OpenSSL fails; the key is not retained by the caller's buffer. */
esp_hmac *esp_hmac_new(esp_hash hash, const uint8_t *key, size_t key_len);

/* Full HMAC output length in bytes (32, 48 or 64). */
size_t esp_hmac_size(const esp_hmac *h);

/*
 * HMAC over data[0..len) followed by `trailer` (4 bytes, the ESN high bits) when not NULL; writes
 * esp_hmac_size() bytes to out. Returns 1 on success.
 */
int esp_hmac_compute(esp_hmac *h, const uint8_t *data, size_t len, const uint8_t *trailer, uint8_t *out);

/* Zeroes every key-derived state and frees it. */
void esp_hmac_free(esp_hmac *h);

#endif
