// The binding functions a backend exports over its CreatedLedger
// (<shm/created_ledger.h>), as callbacks for ExportFunctions
// (<shm/addon_exports.h>).
// Follows Node-API's napi_create_array_with_length and napi_set_element,
// through node-addon-api.
//
// Nothing here maps or unmaps memory: the ledger counts segments, and the
// calling thread's registry (<shm/mapping_registry.h>) only names the thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "created_ledger.h"
#include "mapping_registry.h"

namespace shm {

// A backend's ledger (one per addon), and how it shows one entry to JavaScript.
using CreatedLedgerOf = CreatedLedger& (*)();
using CreatedEntryValue = Napi::Value (*)(Napi::Env env, const CreatedLedger::Entry& entry);

// (): each entry this process created (any thread) and has not destroyed,
// as `Value` shows it.
template <CreatedLedgerOf Ledger, CreatedEntryValue Value>
Napi::Value CreatedEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<CreatedLedger::Entry> entries = Ledger().Snapshot();
  Napi::Array values = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); i++) values.Set(static_cast<uint32_t>(i), Value(env, entries[i]));
  return values;
}

// (): bytes of the entries this thread created and has not destroyed.
template <CreatedLedgerOf Ledger>
Napi::Value CreatedBytesOfThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, static_cast<double>(Ledger().BytesOf(MappingRegistry::Of(env).Serial())));
}

}  // namespace shm
