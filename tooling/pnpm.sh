#!/bin/sh
# Runs the pnpm that package.json pins ("packageManager"), after installing
# the workspace's dependencies, on a machine that has only Node.js and npm:
#   sh tooling/pnpm.sh exec turbo run test
set -e
cd "$(dirname "$0")/.."
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
# This registry serves no signing keys for corepack to check against.
export COREPACK_INTEGRITY_KEYS=0
if command -v corepack >/dev/null 2>&1; then
  pnpm() { corepack pnpm "$@"; }
else
  pnpm() { npx --yes "$(node -p "require('./package.json').packageManager")" "$@"; }
fi
# node-gyp builds (ours and shm-typed-array's, for the compatibility tests)
# use the running Node.js's own headers when installed beside it: nothing to
# download.
node_prefix=$(node -p "require('path').dirname(require('path').dirname(process.execPath))")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
  export npm_config_nodedir="$node_prefix"
fi
pnpm install --frozen-lockfile
pnpm "$@"
