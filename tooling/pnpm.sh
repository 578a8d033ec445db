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
pnpm install --frozen-lockfile
pnpm "$@"
