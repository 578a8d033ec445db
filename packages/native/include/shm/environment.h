// What a native call can learn of its JavaScript environment's state.
// Follows Node-API's napi_call_function (what it answers while an
// environment stops). Nothing here maps or unmaps memory.
#pragma once

#include <node_api.h>

namespace shm {

// Whether the environment is being torn down or terminated (a worker ends or
// is terminated, the process exits): Node-API then refuses to run
// JavaScript, and napi_call_function answers napi_pending_exception before it
// looks at its arguments (it answers napi_invalid_arg otherwise). Safe to ask
// from the environment's own thread only, as every Node-API call.
inline bool EnvironmentStopping(napi_env env) {
  return napi_call_function(env, nullptr, nullptr, 0, nullptr, nullptr) == napi_pending_exception;
}

}  // namespace shm
