// The coded errors of the shm addons' mapping bookkeeping, built from the
// table in <shm/error_codes.h>. Follows Node-API's error creation through
// node-addon-api (napi_create_error, napi_set_named_property).
//
// Nothing here maps or unmaps memory: the callers release what they hold
// before they throw these.
#pragma once

#include <napi.h>

#include <string>

#include "error_codes.h"
#include "fault_guard.h"

namespace shm {

// ERR_SHM_NO_MEMORY: the process could not allocate a few bytes of bookkeeping.
inline Napi::Error NoMemoryError(Napi::Env env) {
  return CodedError(env, ErrorCode::kShmNoMemory, "out of memory for the bookkeeping of a shm mapping");
}

// ERR_SHM_MAPPING_LIMIT: the fault guard's table is full.
inline Napi::Error MappingLimitError(Napi::Env env) {
  return CodedError(env, ErrorCode::kShmMappingLimit,
                    "too many guarded shm mappings in this process (at most " + std::to_string(fault::kSlots) + ")");
}

// ERR_SHM_MAPPING_LIMIT: the process holds `live` ranges and the kernel's
// count is at the budget (see CheckMappingBudget in <shm/mapping_budget.h>).
inline Napi::Error MappingBudgetError(Napi::Env env, long live) {
  return CodedError(env, ErrorCode::kShmMappingLimit,
                    "this process holds " + std::to_string(live) + " shm mappings, the most vm.max_map_count allows " +
                        "while leaving room for the rest of the process; detach some, or let the event loop turn " +
                        "so that dropped ones are released");
}

// ERR_SHM_TRUNCATED: the fault guard replaced pages of the segment's mappings.
inline Napi::Error LostPagesError(Napi::Env env, const std::string& segment) {
  Napi::Error error = CodedError(
      env, ErrorCode::kShmTruncated,
      "shm object '" + segment + "' lost pages while mapped here: another process truncated it, or /dev/shm had no " +
          "room for a page; in this thread's views the pages lost (and, once many were lost in the process, the rest of a " +
          "view) read as zeros and take writes that reach no one: get it again to see the object as it is");
  error.Set("path", Napi::String::New(env, segment));
  return error;
}

}  // namespace shm
