{
  "targets": [
    {
      "target_name": "espresso_crypto",
      "sources": ["native/addon.c", "native/esp_sa.c", "native/esp_hmac.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,now"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O2", "-std=c11", "-Wall", "-Wextra"]
      }
    }
  ]
}
