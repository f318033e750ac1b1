{
  "targets": [
    {
      "target_name": "espresso_sys",
      "sources": ["native/sys.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,now"]
    }
  ]
}
