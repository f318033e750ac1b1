{
  "targets": [
    {
      "target_name": "espresso_netlink",
      "sources": ["native/netlink.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,now"]
    }
  ]
}
