{
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["daemon/dataplane/native/weft_native.c", "daemon/dataplane/native/weft_replay.c", "daemon/native/weft_wakeup.c"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
