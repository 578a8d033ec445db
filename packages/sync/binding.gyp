{
  "targets": [
    {
      "target_name": "shm_sync",
      "sources": ["native/sync_binding.cc", "native/futex_syscalls.cc", "native/async_waits.cc", "native/owner_monitor.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('@shm/native').include_dir\")"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lpthread"]
    }
  ]
}
