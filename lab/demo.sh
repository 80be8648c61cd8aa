#!/usr/bin/env bash
# The README's first command: install what the lab needs (lab/install.sh says what it
# installs), build tprov, start the lab fleet (six real sshd hosts in namespaces on this
# machine, named as the real ones), converge sandbox3 as the tot20 service user, show that
# nothing is left to change, and check the service the way seed 000 does (the PM2 table
# of the service user). Needs root. The lab keeps running; `tprov lab down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash lab/install.sh
echo "== cargo build --locked   (target/debug/tprov)"
cargo build --locked -q
export PATH="$PWD/target/debug:$PATH"
# Every command below reads the lab's inventory, as the README's everyday commands do
# once this is exported.
export TPROV_INVENTORY=inventory/lab
run() {
    echo
    echo "== $*"
    "$@"
}
tprov lab down >/dev/null 2>&1 || true
run tprov lab up
run tprov apply -g tot20-sandbox --limit sandbox3
echo
echo "== tprov diff -g tot20-sandbox --limit sandbox3   (nothing left to change)"
out=$(tprov diff -g tot20-sandbox --limit sandbox3)
echo "$out"
if ! grep -Eq '^sandbox3\S* +: .*changed=0 ' <<<"$out"; then
    echo "demo: a second run would still change something" >&2
    exit 1
fi
run tprov run -g tot20-sandbox --limit sandbox3 --become-user tot20-sandbox -- 'pm2 list'
echo
echo "The lab keeps running. Try the README's everyday commands after"
echo "  export PATH=\"$PWD/target/debug:\$PATH\" TPROV_INVENTORY=inventory/lab"
echo "and stop it with 'tprov lab down'."
