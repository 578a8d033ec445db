#!/usr/bin/env bash
# Rehearses a release without publishing anything:
#   npm run release:rehearse          (or: bash tooling/release/rehearse.sh [out-dir])
# On a scratch copy of the tree (committed files plus uncommitted work; the
# checkout itself is left as it is) it
#   1. applies the pending changesets (`changeset version`: versions and
#      changelogs, internal ranges updated),
#   2. installs and builds, and builds the prebuilt binaries for linux-x64 and
#      linux-arm64 (tooling/prebuild/build.js; arm64 needs Debian's
#      g++-aarch64-linux-gnu, which tooling/arm64/run.sh installs),
#   3. packs every published package as `pnpm publish` would, and
#   4. checks those very tarballs: the packaging suite installs them without a
#      compiler, with npm and pnpm, and requires both architectures' binaries.
# The tarballs are left in out-dir (default: a new folder under /tmp) with
# their sizes listed; publishing them would be `npm publish <tarball>` each.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${1:-$(mktemp -d /tmp/shm-release.XXXXXX)}
mkdir -p "$out"
scratch=$(mktemp -d /tmp/shm-rehearsal.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# The tree as git has it (committed and uncommitted, nothing ignored), or,
# outside a git checkout (a copy such as .ci/run's), everything but what
# builds and installs make.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - | tar xf - -C "$scratch"
else
  tar cf - --exclude=node_modules --exclude=.cache --exclude=.turbo --exclude=dist --exclude=build \
    --exclude=prebuilds --exclude=.prebuild . | tar xf - -C "$scratch"
fi
cd "$scratch"
# A pinned pnpm already fetched is reused; otherwise tooling/pnpm.sh installs it.
[ -d "$root/.cache" ] && cp -r "$root/.cache" .cache

echo "1. changeset version"
sh tooling/pnpm.sh exec changeset version >/dev/null
for package in types native posix sysv core sync; do node -p "'   ' + require('./packages/$package/package.json').name + ' ' + require('./packages/$package/package.json').version"; done

echo "2. build, and the prebuilt binaries"
sh tooling/pnpm.sh exec turbo run build --output-logs=errors-only >/dev/null
node tooling/prebuild/build.js x64 arm64

echo "3. pack"
for package in types native posix sysv core sync; do
  sh tooling/pnpm.sh -C "packages/$package" pack --pack-destination "$out" >/dev/null
done

echo "4. check the tarballs"
log=$scratch/packaging.log
if ! SHM_PACKED="$out" SHM_RELEASE_ARCHES="x64 arm64" sh tooling/pnpm.sh -C tooling/packaging exec jest >"$log" 2>&1; then
  cat "$log" # the whole report: which check failed, and why
  echo "release rehearsal failed: the tarballs in $out do not pass the packaging suite"
  exit 1
fi
grep -E '^(Tests|Test Suites):' "$log"
ls -l "$out"/*.tgz | awk '{ printf "%8.1f KiB  %s\n", $5 / 1024, $9 }'
echo "release rehearsed: nothing was published; the tarballs are in $out"
