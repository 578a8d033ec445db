#!/bin/sh
# Runs the pnpm that package.json pins ("packageManager"), after installing
# the workspace's dependencies, on a machine that has only Node.js and npm
# (Node 25+ ships no corepack; where corepack exists it need not be enabled):
#   sh tooling/pnpm.sh exec turbo run test
# The pinned pnpm is installed once with npm into .cache/ and put first on
# PATH, where turbo looks for it.
set -e
cd "$(dirname "$0")/.."
# No update boxes, telemetry notices or funding lines: only what the user needs.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1
# pnpm's side-effects cache can hand one Node line the build another line
# made of a package that compiles against V8 directly (shm-typed-array): an
# addon that then fails to load. Build such packages for the running line.
export npm_config_side_effects_cache=false
version=$(node -p "require('./package.json').packageManager.split('@')[1]")
tool_dir="$PWD/.cache/pnpm-$version"
if [ ! -x "$tool_dir/node_modules/.bin/pnpm" ]; then
  npm install --prefix "$tool_dir" --no-save --no-package-lock --loglevel=error "pnpm@$version" >/dev/null
fi
export PATH="$tool_dir/node_modules/.bin:$PATH"
# node-gyp builds (ours, and shm-typed-array's for the compatibility tests)
# use the running Node.js's own headers when they are installed beside it:
# nothing to download. turbo's strict environment drops npm_config_nodedir,
# so turbo.json passes it through.
node_prefix=$(node -p "require('path').dirname(require('path').dirname(process.execPath))")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
  export npm_config_nodedir="$node_prefix"
fi
# A node_modules made with other settings is rebuilt, not a prompt that
# aborts without a terminal.
pnpm install --frozen-lockfile --loglevel=error --config.confirm-modules-purge=false
pnpm "$@"
