#!/usr/bin/env bash
# The README's first command: build tprov, start the lab fleet (six real sshd hosts in
# namespaces on this machine, named as the real ones), converge sandbox3 as the tot20
# service user, then show that nothing is left to change. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
    echo "installing openssh-server (the lab hosts run it)..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server git >/dev/null
fi
cargo build --release --locked -q
tprov=./target/release/tprov
$tprov lab down >/dev/null 2>&1 || true
$tprov lab up
echo
echo "== tprov apply -i inventory/lab -g tot20-sandbox --limit sandbox3"
$tprov apply -i inventory/lab -g tot20-sandbox --limit sandbox3
echo
echo "== tprov diff -i inventory/lab -g tot20-sandbox --limit sandbox3   (nothing left to change)"
$tprov diff -i inventory/lab -g tot20-sandbox --limit sandbox3
echo
echo "The lab keeps running: try '$tprov run -i inventory/lab --limit sandbox3 -- ls -la /home/tot20-sandbox/services/tot-app'."
echo "Stop it with '$tprov lab down'."
