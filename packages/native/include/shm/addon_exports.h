// What every shm addon's initializer does alike: staying loaded
// (<shm/stay_loaded.h>), putting its functions on the exports object, and
// registering itself with Node.
// Follows Node-API's napi_create_function, napi_set_named_property and
// NAPI_MODULE, through node-addon-api's Napi::Function and NODE_API_MODULE.
//
// Nothing here maps or unmaps memory.
#pragma once

#include <napi.h>

#include <shm/error_codes.h>
#include <shm/stay_loaded.h>

#include <initializer_list>
#include <string>

namespace shm {

struct ExportedFunction {
  const char* name;  // the property on exports, and the function's own `name`
  Napi::Function::Callback callback;
};

// The addon keeps itself loaded (<shm/stay_loaded.h>) before anything else.
inline void KeepAddonLoaded(Napi::Env env, const void* inAddon) {
  std::string why;
  if (!StayLoaded(inAddon, &why)) throw CodedError(env, ErrorCode::kInvalidState, "The addon cannot keep itself loaded: " + why);
}

inline void ExportFunctions(Napi::Env env, Napi::Object exports, std::initializer_list<ExportedFunction> functions) {
  for (const ExportedFunction& function : functions) {
    exports.Set(function.name, Napi::Function::New(env, function.callback, function.name));
  }
}

}  // namespace shm

// Registers `init` (a qualified name) as the initializer of the addon
// `modname`, which first keeps the addon loaded. NODE_API_MODULE pastes its
// initializer's name into an identifier, so it takes only a plain name: this
// gives it one (static, so its address is this addon's own).
#define SHM_ADDON_MODULE(modname, init)                                                  \
  static Napi::Object modname##_Init(Napi::Env env, Napi::Object exports) {               \
    shm::KeepAddonLoaded(env, reinterpret_cast<const void*>(&modname##_Init));            \
    return init(env, exports);                                                           \
  }                                                                                      \
  NODE_API_MODULE(modname, modname##_Init)
