#!/bin/sh
# Rebuilds this directory from minijinja as published on crates.io plus TPROV.patch,
# or (with --diff) rewrites TPROV.patch from the changes made here.
#   vendor/minijinja/update.sh          # upstream + TPROV.patch -> vendor/minijinja/src
#   vendor/minijinja/update.sh --diff   # vendor/minijinja/src - upstream -> TPROV.patch
# The version is the one in Cargo.toml here; cargo fetches it from crates.io.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/probe/src"
printf '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nminijinja = "=%s"\n' "$version" > "$work/probe/Cargo.toml"
echo 'fn main() {}' > "$work/probe/src/main.rs"
(cd "$work/probe" && cargo fetch --quiet)
up=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"minijinja-$version" | head -n1)
mkdir -p "$work/a" "$work/b"
cp -r "$up/src" "$work/a/src"
if [ "${1:-}" = "--diff" ]; then
    cp -r "$here/src" "$work/b/src"
    (cd "$work" && diff -ruN a/src b/src > "$here/TPROV.patch") || true
    echo "wrote $here/TPROV.patch"
else
    (cd "$work/a" && patch -s -p1 < "$here/TPROV.patch")
    rm -rf "$here/src" && cp -r "$work/a/src" "$here/src"
    echo "vendor/minijinja/src is minijinja $version with TPROV.patch"
fi
