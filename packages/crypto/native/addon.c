/*
 * N-API surface of the native engine (engines/openssl.ts is its only caller):
 *   createSa(encryption, keyBits, icvBytes, integrity, esn, implicitIv, encKey, integKey) -> handle
 *   seal(handle, buffer, offset, length, seqHigh, status, from, to)
 *   open(handle, buffer, offset, length, seqHigh, status, from, to)
 *   destroySa(handle)
 *   liveSas() -> how many SA contexts this environment holds (destroyed or finalized ones excluded)
 *   opensslVersion: the OpenSSL this process runs (Node's own)
 * Every argument is checked here before esp_sa.c touches memory; per-packet offsets and lengths are
 * checked there. The module keeps no global mutable state (its one counter is per environment), so each
 * worker_thread may load it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <node_api.h>
#include <openssl/crypto.h>

#include "esp_sa.h"

/* Marks our externals, so that a foreign external passed as a handle is refused, not dereferenced. */
static const napi_type_tag sa_handle_tag = {0x6573707265737330ULL, 0x73612d68616e646cULL};

/* Per environment (main thread or worker): freed by Node after every handle's finalizer has run. */
typedef struct {
  int64_t live_sas;
} addon_state;

typedef struct {
  esp_sa *sa;
  addon_state *state;
} sa_handle;

static void release_sa(sa_handle *h) {
  if (h->sa == NULL) return;
  esp_sa_free(h->sa);
  h->sa = NULL;
  h->state->live_sas--;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return NULL;
}

static int get_typed(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *count) {
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, count, data, NULL, NULL) != napi_ok || type != want) return 0;
  /* A detached buffer has no memory behind it: treat it as empty. */
  if (*data == NULL) *count = 0;
  return 1;
}

static int get_uint(napi_env env, napi_value value, double max, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= max) || d != (double)(uint32_t)d) return 0;
  *out = (uint32_t)d;
  return 1;
}

static int get_flag(napi_env env, napi_value value, int *out) {
  bool b;
  if (napi_get_value_bool(env, value, &b) != napi_ok) return 0;
  *out = b;
  return 1;
}

static sa_handle *get_handle(napi_env env, napi_value value) {
  bool tagged = false;
  void *data = NULL;
  if (napi_check_object_type_tag(env, value, &sa_handle_tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok) {
    throw_type(env, "handle must be an SA handle from createSa");
    return NULL;
  }
  return data;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sa_handle *h = data;
  release_sa(h);
  free(h);
}

static napi_value create_sa(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 8) {
    return throw_type(env, "createSa takes 8 arguments");
  }
  uint32_t encryption, key_bits, icv_bytes, integrity;
  esp_sa_params params;
  if (!get_uint(env, argv[0], 4, &encryption)) return throw_range(env, "encryption must be 0..4");
  if (!get_uint(env, argv[1], 256, &key_bits)) return throw_range(env, "keyBits must be 0..256");
  if (!get_uint(env, argv[2], 64, &icv_bytes)) return throw_range(env, "icvBytes must be 0..64");
  if (!get_uint(env, argv[3], 3, &integrity)) return throw_range(env, "integrity must be 0..3");
  if (!get_flag(env, argv[4], &params.esn)) return throw_type(env, "esn must be a boolean");
  if (!get_flag(env, argv[5], &params.implicit_iv)) return throw_type(env, "implicitIv must be a boolean");
  void *enc_key, *integ_key;
  size_t enc_len, integ_len;
  if (!get_typed(env, argv[6], napi_uint8_array, &enc_key, &enc_len)) {
    return throw_type(env, "encryptionKey must be a Uint8Array");
  }
  if (!get_typed(env, argv[7], napi_uint8_array, &integ_key, &integ_len)) {
    return throw_type(env, "integrityKey must be a Uint8Array");
  }
  params.encryption = (esp_encryption)encryption;
  params.key_bits = key_bits;
  params.icv_bytes = icv_bytes;
  params.integrity = (int)integrity;

  addon_state *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL) {
    napi_throw_error(env, "ERR_ESPRESSO_CRYPTO_SETUP", "the addon was not initialised");
    return NULL;
  }
  const char *error = "out of memory";
  sa_handle *h = calloc(1, sizeof *h);
  if (h != NULL) h->sa = esp_sa_new(&params, enc_key, enc_len, integ_key, integ_len, &error);
  if (h == NULL || h->sa == NULL) {
    free(h);
    napi_throw_error(env, "ERR_ESPRESSO_CRYPTO_SETUP", error);
    return NULL;
  }
  h->state = state;
  state->live_sas++;
  napi_value handle;
  if (napi_create_external(env, h, finalize_handle, NULL, &handle) != napi_ok) {
    finalize_handle(env, h, NULL);
    napi_throw_error(env, "ERR_ESPRESSO_CRYPTO_SETUP", "could not create the SA handle");
    return NULL;
  }
  if (napi_type_tag_object(env, handle, &sa_handle_tag) != napi_ok) {
    napi_throw_error(env, "ERR_ESPRESSO_CRYPTO_SETUP", "could not tag the SA handle");
    return NULL;
  }
  return handle;
}

static napi_value destroy_sa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) {
    return throw_type(env, "destroySa takes 1 argument");
  }
  sa_handle *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  release_sa(h);
  return NULL;
}

static napi_value live_sas(napi_env env, napi_callback_info info) {
  (void)info;
  addon_state *state = NULL;
  napi_value count;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL ||
      napi_create_int64(env, state->live_sas, &count) != napi_ok) {
    return NULL;
  }
  return count;
}

static void free_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value run_batch(napi_env env, napi_callback_info info, void (*run)(esp_sa *, const esp_batch *)) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 8) {
    return throw_type(env, "seal/open take 8 arguments");
  }
  sa_handle *h = get_handle(env, argv[0]);
  if (h == NULL) return NULL;
  if (h->sa == NULL) {
    napi_throw_error(env, "ERR_ESPRESSO_SA_DESTROYED", "the SA's crypto context was destroyed");
    return NULL;
  }
  esp_batch b;
  void *buf, *offset, *length, *seq_high, *status;
  size_t n_offset, n_length, n_seq_high, n_status;
  if (!get_typed(env, argv[1], napi_uint8_array, &buf, &b.buf_len)) return throw_type(env, "buffer must be a Uint8Array");
  if (!get_typed(env, argv[2], napi_uint32_array, &offset, &n_offset)) {
    return throw_type(env, "offset must be a Uint32Array");
  }
  if (!get_typed(env, argv[3], napi_uint32_array, &length, &n_length)) {
    return throw_type(env, "length must be a Uint32Array");
  }
  if (!get_typed(env, argv[4], napi_uint32_array, &seq_high, &n_seq_high)) {
    return throw_type(env, "seqHigh must be a Uint32Array");
  }
  if (!get_typed(env, argv[5], napi_uint8_array, &status, &n_status)) {
    return throw_type(env, "status must be a Uint8Array");
  }
  size_t entries = n_offset;
  if (n_length < entries) entries = n_length;
  if (n_seq_high < entries) entries = n_seq_high;
  if (n_status < entries) entries = n_status;
  if (entries > UINT32_MAX) entries = UINT32_MAX;
  if (!get_uint(env, argv[6], (double)entries, &b.from) || !get_uint(env, argv[7], (double)entries, &b.to) ||
      b.from > b.to) {
    double from = 0, to = 0;
    napi_get_value_double(env, argv[6], &from);
    napi_get_value_double(env, argv[7], &to);
    char message[160];
    snprintf(message, sizeof message, "batch range [%.17g, %.17g) is outside the batch's %zu entries", from, to, entries);
    return throw_range(env, message);
  }
  b.buf = buf;
  b.offset = offset;
  b.length = length;
  b.seq_high = seq_high;
  b.status = status;
  run(h->sa, &b);
  return NULL;
}

static napi_value seal(napi_env env, napi_callback_info info) { return run_batch(env, info, esp_sa_seal); }

static napi_value open(napi_env env, napi_callback_info info) { return run_batch(env, info, esp_sa_open); }

NAPI_MODULE_INIT() {
  addon_state *state = calloc(1, sizeof *state);
  if (state == NULL || napi_set_instance_data(env, state, free_state, NULL) != napi_ok) {
    free(state);
    return NULL;
  }
  napi_value version;
  if (napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &version) != napi_ok) {
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"createSa", NULL, create_sa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"destroySa", NULL, destroy_sa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"liveSas", NULL, live_sas, NULL, NULL, NULL, napi_enumerable, NULL},
      {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"opensslVersion", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
