/*
 * One SA's ESP crypto over OpenSSL: contexts keyed once at install, then seal/open over a batch of
 * packets in one buffer, in place. Knows nothing of N-API; addon.c validates the batch arrays first.
 */
#ifndef ESPRESSO_ESP_SA_H
#define ESPRESSO_ESP_SA_H

#include <stddef.h>
#include <stdint.h>

/* The values of CryptoStatus in packet-batch.ts. */
enum { ESP_OK = 0, ESP_AUTH_FAILED = 1, ESP_BAD_LENGTH = 2, ESP_BAD_DESCRIPTOR = 3 };

typedef enum {
  ESP_ENC_AES_GCM = 0,
  ESP_ENC_AES_GMAC = 1,
  ESP_ENC_CHACHA20_POLY1305 = 2,
  ESP_ENC_AES_CBC = 3,
  ESP_ENC_NULL = 4,
} esp_encryption;

/* 0 = none; otherwise an esp_hash. */
typedef enum { ESP_INTEG_NONE = 0 } esp_integrity_none;

typedef struct {
  esp_encryption encryption;
  unsigned key_bits;  /* 128, 192 or 256; 0 for null encryption */
  unsigned icv_bytes; /* for the combined modes; HMAC ICVs follow from the hash */
  int integrity;      /* ESP_INTEG_NONE or an esp_hash */
  int esn;
  int implicit_iv;
} esp_sa_params;

/*
 * A batch as addon.c hands it over: every array holds at least `to` entries and buf_len is the byte
 * length of buf (0 when detached). Per-packet offset/length are still untrusted.
 */
typedef struct {
  uint8_t *buf;
  size_t buf_len;
  const uint32_t *offset;
  const uint32_t *length;
  const uint32_t *seq_high;
  uint8_t *status;
  uint32_t from;
  uint32_t to;
} esp_batch;

typedef struct esp_sa esp_sa;

/*
 * Builds the contexts. On failure returns NULL and sets *error to a static message (never key material).
 * The keys are not retained: the caller may zero its copies afterwards.
 */
esp_sa *esp_sa_new(const esp_sa_params *params, const uint8_t *enc_key, size_t enc_key_len,
                   const uint8_t *integ_key, size_t integ_key_len, const char **error);

void esp_sa_seal(esp_sa *sa, const esp_batch *batch);
void esp_sa_open(esp_sa *sa, const esp_batch *batch);

/* Frees the contexts and cleanses the key material; NULL is a no-op. */
void esp_sa_free(esp_sa *sa);

#endif
