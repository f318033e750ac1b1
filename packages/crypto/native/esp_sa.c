#include "esp_sa.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "esp_hmac.h"

#define ESP_HEADER_BYTES 8
/* Far beyond any IP packet, and small enough that OpenSSL's int lengths never overflow. */
#define ESP_MAX_PACKET_BYTES (1u << 30)

typedef void (*esp_batch_fn)(esp_sa *sa, const esp_batch *batch);

struct esp_sa {
  esp_batch_fn seal;
  esp_batch_fn open;
  EVP_CIPHER_CTX *seal_ctx;
  EVP_CIPHER_CTX *open_ctx;
  esp_hmac *hmac;
  uint32_t iv_bytes;
  uint32_t icv_bytes;
  /* Header + IV + ICV: the shortest packet the SA accepts. */
  uint32_t overhead;
  /* Payload + trailer must be a multiple of this (1 where the cipher does not care). */
  uint32_t block_bytes;
  int esn;
  int implicit_iv;
  uint8_t salt[4];
};

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/*
 * Resolves entry i to a packet, or writes its status and returns NULL. The sum is taken in 64 bits, so
 * an offset + length that wraps in u32 is caught as out of bounds. An empty or detached buffer has
 * buf_len 0 (and maybe buf NULL): no packet passes both checks then, since overhead is at least 8.
 */
static inline uint8_t *packet_at(const esp_sa *sa, const esp_batch *b, uint32_t i, uint32_t *payload_len) {
  const uint64_t off = b->offset[i];
  const uint64_t len = b->length[i];
  if (off + len > b->buf_len) {
    b->status[i] = ESP_BAD_DESCRIPTOR;
    return NULL;
  }
  if (len < sa->overhead || len > ESP_MAX_PACKET_BYTES || (len - sa->overhead) % sa->block_bytes != 0) {
    b->status[i] = ESP_BAD_LENGTH;
    return NULL;
  }
  *payload_len = (uint32_t)len - sa->overhead;
  return b->buf + off;
}

/* RFC 4106 §4, RFC 7634 §2, RFC 8750 §3: salt || explicit IV, or salt || 64-bit sequence number. */
static inline void aead_nonce(const esp_sa *sa, const uint8_t *pkt, uint32_t seq_high, uint8_t nonce[12]) {
  memcpy(nonce, sa->salt, 4);
  if (sa->implicit_iv) {
    put_be32(nonce + 4, sa->esn ? seq_high : 0);
    memcpy(nonce + 8, pkt + 4, 4);
  } else {
    memcpy(nonce + 4, pkt + ESP_HEADER_BYTES, 8);
  }
}

/* RFC 4106 §5, RFC 7634 §2.1: SPI || seq, or SPI || seq high || seq low with ESN. */
static inline int aead_aad(EVP_CIPHER_CTX *c, const esp_sa *sa, const uint8_t *pkt, uint32_t seq_high) {
  int n = 0;
  if (!sa->esn) return EVP_CipherUpdate(c, NULL, &n, pkt, 8);
  uint8_t aad[12];
  memcpy(aad, pkt, 4);
  put_be32(aad + 4, seq_high);
  memcpy(aad + 8, pkt + 4, 4);
  return EVP_CipherUpdate(c, NULL, &n, aad, sizeof aad);
}

static void seal_aead(esp_sa *sa, const esp_batch *b) {
  EVP_CIPHER_CTX *c = sa->seal_ctx;
  const uint32_t head = ESP_HEADER_BYTES + sa->iv_bytes;
  uint8_t nonce[12], scratch[32];
  for (uint32_t i = b->from; i < b->to; i++) {
    uint32_t plen;
    uint8_t *pkt = packet_at(sa, b, i, &plen);
    if (pkt == NULL) continue;
    uint8_t *payload = pkt + head;
    int n = 0;
    aead_nonce(sa, pkt, b->seq_high[i], nonce);
    const int ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1) == 1 && aead_aad(c, sa, pkt, b->seq_high[i]) == 1 &&
                   (plen == 0 || EVP_CipherUpdate(c, payload, &n, payload, (int)plen) == 1) &&
                   EVP_CipherFinal_ex(c, scratch, &n) == 1 &&
                   EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)sa->icv_bytes, payload + plen) == 1;
    b->status[i] = ok ? ESP_OK : ESP_AUTH_FAILED;
  }
}

/*
 * OpenSSL decrypts before it checks the tag. The keystream is the same both ways, so running the
 * encryption over the payload again puts the received ciphertext back: a forged packet stays as it came.
 * Where that cannot be done the payload is zeroed; it never keeps the unauthenticated plaintext.
 */
static void undo_decryption(esp_sa *sa, const uint8_t nonce[12], uint8_t *payload, uint32_t plen, int decrypted) {
  int n = 0;
  if (!decrypted || EVP_CipherInit_ex(sa->seal_ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
      EVP_CipherUpdate(sa->seal_ctx, payload, &n, payload, (int)plen) != 1) {
    OPENSSL_cleanse(payload, plen);
  }
}

static void open_aead(esp_sa *sa, const esp_batch *b) {
  EVP_CIPHER_CTX *c = sa->open_ctx;
  const uint32_t head = ESP_HEADER_BYTES + sa->iv_bytes;
  uint8_t nonce[12], scratch[32];
  for (uint32_t i = b->from; i < b->to; i++) {
    uint32_t plen;
    uint8_t *pkt = packet_at(sa, b, i, &plen);
    if (pkt == NULL) continue;
    uint8_t *payload = pkt + head;
    int n = 0;
    aead_nonce(sa, pkt, b->seq_high[i], nonce);
    const int ready = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0) == 1 &&
                      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)sa->icv_bytes, payload + plen) == 1 &&
                      aead_aad(c, sa, pkt, b->seq_high[i]) == 1;
    const int ran = ready && plen > 0;
    const int decrypted = ran && EVP_CipherUpdate(c, payload, &n, payload, (int)plen) == 1;
    if (ready && (decrypted || !ran) && EVP_CipherFinal_ex(c, scratch, &n) == 1) {
      b->status[i] = ESP_OK;
      continue;
    }
    if (ran) undo_decryption(sa, nonce, payload, plen, decrypted);
    b->status[i] = ESP_AUTH_FAILED;
  }
}

/* RFC 4543 §3.2/§5: the whole packet up to the ICV is AAD, with the ESN high bits after the SPI. */
static inline int gmac_aad(EVP_CIPHER_CTX *c, const esp_sa *sa, const uint8_t *pkt, uint32_t covered,
                           uint32_t seq_high) {
  int n = 0;
  if (!sa->esn) return EVP_CipherUpdate(c, NULL, &n, pkt, (int)covered);
  uint8_t high[4];
  put_be32(high, seq_high);
  return EVP_CipherUpdate(c, NULL, &n, pkt, 4) == 1 && EVP_CipherUpdate(c, NULL, &n, high, 4) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, pkt + 4, (int)covered - 4) == 1;
}

static void seal_gmac(esp_sa *sa, const esp_batch *b) {
  EVP_CIPHER_CTX *c = sa->seal_ctx;
  uint8_t nonce[12], scratch[32];
  for (uint32_t i = b->from; i < b->to; i++) {
    uint32_t plen;
    uint8_t *pkt = packet_at(sa, b, i, &plen);
    if (pkt == NULL) continue;
    const uint32_t covered = ESP_HEADER_BYTES + sa->iv_bytes + plen;
    int n = 0;
    aead_nonce(sa, pkt, b->seq_high[i], nonce);
    const int ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1) == 1 &&
                   gmac_aad(c, sa, pkt, covered, b->seq_high[i]) == 1 && EVP_CipherFinal_ex(c, scratch, &n) == 1 &&
                   EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, (int)sa->icv_bytes, pkt + covered) == 1;
    b->status[i] = ok ? ESP_OK : ESP_AUTH_FAILED;
  }
}

static void open_gmac(esp_sa *sa, const esp_batch *b) {
  EVP_CIPHER_CTX *c = sa->open_ctx;
  uint8_t nonce[12], scratch[32];
  for (uint32_t i = b->from; i < b->to; i++) {
    uint32_t plen;
    uint8_t *pkt = packet_at(sa, b, i, &plen);
    if (pkt == NULL) continue;
    const uint32_t covered = ESP_HEADER_BYTES + sa->iv_bytes + plen;
    int n = 0;
    aead_nonce(sa, pkt, b->seq_high[i], nonce);
    const int ok = EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0) == 1 &&
                   EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, (int)sa->icv_bytes, pkt + covered) == 1 &&
                   gmac_aad(c, sa, pkt, covered, b->seq_high[i]) == 1 && EVP_CipherFinal_ex(c, scratch, &n) == 1;
    b->status[i] = ok ? ESP_OK : ESP_AUTH_FAILED;
  }
}

/* RFC 4303 §2.8, RFC 4868 §2.1: HMAC over SPI .. end of ciphertext, the ESN high bits appended to the input only. */
static inline int hmac_tag(esp_sa *sa, const uint8_t *pkt, uint32_t covered, uint32_t seq_high,
                           uint8_t tag[ESP_HMAC_MAX_OUT]) {
  uint8_t high[4];
  put_be32(high, seq_high);
  return esp_hmac_compute(sa->hmac, pkt, covered, sa->esn ? high : NULL, tag);
}

static inline int cbc_run(EVP_CIPHER_CTX *c, uint8_t *pkt, uint32_t plen, int enc) {
  int n = 0;
  uint8_t *payload = pkt + ESP_HEADER_BYTES + 16;
  return EVP_CipherInit_ex(c, NULL, NULL, NULL, pkt + ESP_HEADER_BYTES, enc) == 1 &&
         (plen == 0 || (EVP_CipherUpdate(c, payload, &n, payload, (int)plen) == 1 && (uint32_t)n == plen));
}

/* Encrypt-then-MAC (RFC 4303 §3.3.2); null encryption has no cipher context and only the MAC runs. */
static void seal_cbc_hmac(esp_sa *sa, const esp_batch *b) {
  uint8_t tag[ESP_HMAC_MAX_OUT];
  for (uint32_t i = b->from; i < b->to; i++) {
    uint32_t plen;
    uint8_t *pkt = packet_at(sa, b, i, &plen);
    if (pkt == NULL) continue;
    const uint32_t covered = ESP_HEADER_BYTES + sa->iv_bytes + plen;
    int ok = sa->seal_ctx == NULL || cbc_run(sa->seal_ctx, pkt, plen, 1);
    if (ok && sa->hmac != NULL) {
      ok = hmac_tag(sa, pkt, covered, b->seq_high[i], tag);
      if (ok) memcpy(pkt + covered, tag, sa->icv_bytes);
    }
    b->status[i] = ok ? ESP_OK : ESP_AUTH_FAILED;
  }
  OPENSSL_cleanse(tag, sizeof tag);
}

/* The ICV is checked (in constant time) before anything is decrypted. */
static void open_cbc_hmac(esp_sa *sa, const esp_batch *b) {
  uint8_t tag[ESP_HMAC_MAX_OUT];
  for (uint32_t i = b->from; i < b->to; i++) {
    uint32_t plen;
    uint8_t *pkt = packet_at(sa, b, i, &plen);
    if (pkt == NULL) continue;
    const uint32_t covered = ESP_HEADER_BYTES + sa->iv_bytes + plen;
    int ok = 1;
    if (sa->hmac != NULL) {
      ok = hmac_tag(sa, pkt, covered, b->seq_high[i], tag) && CRYPTO_memcmp(tag, pkt + covered, sa->icv_bytes) == 0;
    }
    if (ok && sa->open_ctx != NULL) ok = cbc_run(sa->open_ctx, pkt, plen, 0);
    b->status[i] = ok ? ESP_OK : ESP_AUTH_FAILED;
  }
  OPENSSL_cleanse(tag, sizeof tag);
}

static const char *cipher_name(esp_encryption enc, unsigned key_bits) {
  switch (enc) {
    case ESP_ENC_AES_GCM:
    case ESP_ENC_AES_GMAC:
      return key_bits == 128 ? "AES-128-GCM" : key_bits == 192 ? "AES-192-GCM" : key_bits == 256 ? "AES-256-GCM" : NULL;
    case ESP_ENC_CHACHA20_POLY1305:
      return key_bits == 256 ? "ChaCha20-Poly1305" : NULL;
    case ESP_ENC_AES_CBC:
      return key_bits == 128 ? "AES-128-CBC" : key_bits == 192 ? "AES-192-CBC" : key_bits == 256 ? "AES-256-CBC" : NULL;
    case ESP_ENC_NULL:
      return NULL;
  }
  return NULL;
}

/* Block modes run without padding: ESP pads the payload itself (RFC 4303 §2.4). */
static EVP_CIPHER_CTX *keyed_context(EVP_CIPHER *cipher, const uint8_t *key, int enc, int combined) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c == NULL) return NULL;
  int ok = EVP_CipherInit_ex(c, cipher, NULL, key, NULL, enc) == 1;
  if (ok && !combined) ok = EVP_CIPHER_CTX_set_padding(c, 0) == 1;
  if (!ok) {
    EVP_CIPHER_CTX_free(c);
    return NULL;
  }
  return c;
}

esp_sa *esp_sa_new(const esp_sa_params *p, const uint8_t *enc_key, size_t enc_key_len, const uint8_t *integ_key,
                   size_t integ_key_len, const char **error) {
  const int combined = p->encryption == ESP_ENC_AES_GCM || p->encryption == ESP_ENC_AES_GMAC ||
                       p->encryption == ESP_ENC_CHACHA20_POLY1305;
  const char *name = cipher_name(p->encryption, p->key_bits);
  if (p->encryption != ESP_ENC_NULL && name == NULL) {
    *error = "unsupported encryption algorithm or key size";
    return NULL;
  }
  if (p->encryption == ESP_ENC_NULL && p->integrity == ESP_INTEG_NONE) {
    *error = "null encryption needs an integrity algorithm";
    return NULL;
  }
  if (combined && p->integrity != ESP_INTEG_NONE) {
    *error = "combined-mode algorithms take no separate integrity algorithm";
    return NULL;
  }
  if (!combined && p->implicit_iv) {
    *error = "implicit IV applies to AES-GCM, AES-GMAC and ChaCha20-Poly1305 only";
    return NULL;
  }
  const size_t key_bytes = p->key_bits / 8;
  if (enc_key_len != key_bytes + (combined ? 4 : 0)) {
    *error = "encryption key has the wrong length for the algorithm";
    return NULL;
  }
  if (p->encryption == ESP_ENC_AES_GCM ? (p->icv_bytes != 8 && p->icv_bytes != 12 && p->icv_bytes != 16)
                                       : (combined && p->icv_bytes != 16)) {
    *error = "unsupported ICV length for the algorithm";
    return NULL;
  }
  if (!combined && p->integrity != ESP_INTEG_NONE && integ_key_len == 0) {
    *error = "integrity key is empty";
    return NULL;
  }

  esp_sa *sa = calloc(1, sizeof *sa);
  if (sa == NULL) {
    *error = "out of memory";
    return NULL;
  }
  sa->esn = p->esn != 0;
  sa->implicit_iv = p->implicit_iv != 0;
  sa->block_bytes = 1;
  if (combined) {
    memcpy(sa->salt, enc_key + key_bytes, 4);
    sa->iv_bytes = p->implicit_iv ? 0 : 8;
    sa->icv_bytes = p->icv_bytes;
    sa->seal = p->encryption == ESP_ENC_AES_GMAC ? seal_gmac : seal_aead;
    sa->open = p->encryption == ESP_ENC_AES_GMAC ? open_gmac : open_aead;
  } else {
    sa->iv_bytes = p->encryption == ESP_ENC_AES_CBC ? 16 : 0;
    sa->block_bytes = p->encryption == ESP_ENC_AES_CBC ? 16 : 1;
    sa->seal = seal_cbc_hmac;
    sa->open = open_cbc_hmac;
    if (p->integrity != ESP_INTEG_NONE) {
      sa->hmac = esp_hmac_new((esp_hash)p->integrity, integ_key, integ_key_len);
      if (sa->hmac == NULL) {
        *error = "OpenSSL could not set up the HMAC";
        esp_sa_free(sa);
        return NULL;
      }
      /* RFC 4868 §2.3: the ICV is the left half of the HMAC output. */
      sa->icv_bytes = (uint32_t)esp_hmac_size(sa->hmac) / 2;
    }
    if (p->icv_bytes != sa->icv_bytes) {
      *error = "ICV length does not match the integrity algorithm";
      esp_sa_free(sa);
      return NULL;
    }
  }
  sa->overhead = ESP_HEADER_BYTES + sa->iv_bytes + sa->icv_bytes;

  if (name != NULL) {
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    if (cipher != NULL) {
      sa->seal_ctx = keyed_context(cipher, enc_key, 1, combined);
      sa->open_ctx = keyed_context(cipher, enc_key, 0, combined);
    }
    EVP_CIPHER_free(cipher);
    if (sa->seal_ctx == NULL || sa->open_ctx == NULL) {
      *error = "OpenSSL could not set up the cipher";
      esp_sa_free(sa);
      return NULL;
    }
  }
  return sa;
}

void esp_sa_seal(esp_sa *sa, const esp_batch *batch) { sa->seal(sa, batch); }

void esp_sa_open(esp_sa *sa, const esp_batch *batch) { sa->open(sa, batch); }

void esp_sa_free(esp_sa *sa) {
  if (sa == NULL) return;
  /* EVP_CIPHER_CTX_free clears the provider's key schedule; the salt and HMAC states are ours to clear. */
  EVP_CIPHER_CTX_free(sa->seal_ctx);
  EVP_CIPHER_CTX_free(sa->open_ctx);
  esp_hmac_free(sa->hmac);
  OPENSSL_cleanse(sa, sizeof *sa);
  free(sa);
}
