// What every shm addon's initializer does alike: staying loaded, putting its
// functions on the exports object, and registering itself with Node.
// Follows dladdr(3) and dlopen(3) (RTLD_NOLOAD, RTLD_NODELETE), Node-API's
// napi_create_function, napi_set_named_property and NAPI_MODULE, through
// node-addon-api's Napi::Function and NODE_API_MODULE.
//
// Nothing here maps or unmaps memory.
#pragma once

#include <dlfcn.h>
#include <napi.h>

#include <shm/error_codes.h>

#include <initializer_list>
#include <string>

namespace shm {

struct ExportedFunction {
  const char* name;  // the property on exports, and the function's own `name`
  Napi::Function::Callback callback;
};

// Contract: an addon's code stays mapped for the life of the process.
// Other addons of the process hold its functions' addresses (the range
// watchers of <shm/range_release.h>), and its threads (waitAsync's) may run
// past the environment that loaded it. Node 20 unloads an addon with the
// last environment that loaded it (dlclose), and glibc keeps only the
// object that defined a unique symbol first; so each addon makes itself
// RTLD_NODELETE, once per process (a second dlopen of a loaded object only
// adds the flag). `inAddon` is any address of the addon's own code.
inline void StayLoaded(Napi::Env env, const void* inAddon) {
  Dl_info info;
  if (dladdr(inAddon, &info) != 0 && info.dli_fname != nullptr &&
      dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) != nullptr) {
    return;  // the handle is never closed: that is the point
  }
  const char* reason = dlerror();
  throw CodedError(env, ErrorCode::kInvalidState,
                   std::string("The addon cannot keep itself loaded: ") + (reason ? reason : "dladdr found no object"));
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
    shm::StayLoaded(env, reinterpret_cast<const void*>(&modname##_Init));                 \
    return init(env, exports);                                                           \
  }                                                                                      \
  NODE_API_MODULE(modname, modname##_Init)
