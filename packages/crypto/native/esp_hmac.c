#include "esp_hmac.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * HMAC (RFC 2104) from the digest's own contexts: the hash states after the key XOR ipad and XOR opad
 * blocks are computed once, and a packet costs two context copies plus the hashing. Measured on Node 26's
 * OpenSSL 3.5 at 64-byte payloads, this is faster than re-initialising an EVP_MAC_CTX per packet and
 * close to the deprecated SHA256_* block functions, with no allocation per packet (EVP_MD_CTX_copy_ex
 * reuses the provider context of the same digest).
 */
struct esp_hmac {
  EVP_MD_CTX *inner;
  EVP_MD_CTX *outer;
  EVP_MD_CTX *work;
  size_t out_len;
};

static const char *digest_name(esp_hash hash) {
  switch (hash) {
    case ESP_HASH_SHA256:
      return "SHA256";
    case ESP_HASH_SHA384:
      return "SHA384";
    case ESP_HASH_SHA512:
      return "SHA512";
  }
  return NULL;
}

static int absorb_pad(EVP_MD_CTX *c, const EVP_MD *md, const uint8_t *block, size_t block_len, uint8_t pad_byte) {
  uint8_t pad[128];
  for (size_t i = 0; i < block_len; i++) pad[i] = block[i] ^ pad_byte;
  const int ok = EVP_DigestInit_ex2(c, md, NULL) == 1 && EVP_DigestUpdate(c, pad, block_len) == 1;
  OPENSSL_cleanse(pad, sizeof pad);
  return ok;
}

esp_hmac *esp_hmac_new(esp_hash hash, const uint8_t *key, size_t key_len) {
  const char *name = digest_name(hash);
  if (name == NULL) return NULL;
  esp_hmac *h = calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
  h->inner = EVP_MD_CTX_new();
  h->outer = EVP_MD_CTX_new();
  h->work = EVP_MD_CTX_new();
  uint8_t block[128] = {0};
  const int block_len = md == NULL ? 0 : EVP_MD_get_block_size(md);
  int ok = md != NULL && h->inner != NULL && h->outer != NULL && h->work != NULL && block_len > 0 &&
           (size_t)block_len <= sizeof block;
  if (ok && key_len > (size_t)block_len) {
    /* RFC 2104 §2: a key longer than the block is replaced by its hash. */
    unsigned int n = 0;
    ok = EVP_Digest(key, key_len, block, &n, md, NULL) == 1;
  } else if (ok && key_len > 0) {
    memcpy(block, key, key_len);
  }
  ok = ok && absorb_pad(h->inner, md, block, (size_t)block_len, 0x36) &&
       absorb_pad(h->outer, md, block, (size_t)block_len, 0x5c) && EVP_MD_CTX_copy_ex(h->work, h->inner) == 1;
  OPENSSL_cleanse(block, sizeof block);
  if (ok) h->out_len = (size_t)EVP_MD_get_size(md);
  EVP_MD_free(md);
  if (!ok || h->out_len == 0 || h->out_len > ESP_HMAC_MAX_OUT) {
    esp_hmac_free(h);
    return NULL;
  }
  return h;
}

size_t esp_hmac_size(const esp_hmac *h) { return h->out_len; }

int esp_hmac_compute(esp_hmac *h, const uint8_t *data, size_t len, const uint8_t *trailer, uint8_t *out) {
  unsigned int n = 0;
  return EVP_MD_CTX_copy_ex(h->work, h->inner) == 1 && EVP_DigestUpdate(h->work, data, len) == 1 &&
         (trailer == NULL || EVP_DigestUpdate(h->work, trailer, 4) == 1) &&
         EVP_DigestFinal_ex(h->work, out, &n) == 1 && EVP_MD_CTX_copy_ex(h->work, h->outer) == 1 &&
         EVP_DigestUpdate(h->work, out, h->out_len) == 1 && EVP_DigestFinal_ex(h->work, out, &n) == 1;
}

void esp_hmac_free(esp_hmac *h) {
  if (h == NULL) return;
  /* Freeing a digest context clears its provider state, which here is key-equivalent. */
  EVP_MD_CTX_free(h->inner);
  EVP_MD_CTX_free(h->outer);
  EVP_MD_CTX_free(h->work);
  OPENSSL_cleanse(h, sizeof *h);
  free(h);
}
