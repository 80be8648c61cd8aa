#!/usr/bin/env bash
# Benchmark (issue 12): lineinfile, blockinfile and replace on a 50 MB file of 4M lines on
# one lab host over SSH, tprov against ansible-playbook on the same play, each run
# twice (a change, then no change). Writes docs/bench-bigfile.md. Needs root.
#   bench/bigfile.sh [--debug]   (--debug: the debug binary CI tests, not release)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if [ "${1:-}" = --debug ]; then
    cargo build --locked -q; tprov=$root/target/debug/tprov; build=debug
else
    cargo build --release --locked -q; tprov=$root/target/release/tprov; build=release
fi
work=$(mktemp -d /tmp/tprov-bench-bigfile.XXXXXX)
lab=$work/lab
trap '$tprov lab down --dir "$lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
$tprov lab up --dir "$lab" --hosts sandbox3 --no-node --inventory "$work/inventory" >/dev/null
seq -f 'line %.0f' 1 4000000 > "$work/big.orig"
cat > "$work/play.yml" <<PLAY
- hosts: sandbox3.tokenoftrust.com
  gather_facts: false
  tasks:
    - lineinfile: {path: /root/big.txt, regexp: '^line 3999999\$', line: replaced}
    - lineinfile: {path: /root/big.txt, line: appended}
    - lineinfile: {path: /root/big.txt, regexp: '^line 2\$', state: absent}
    - blockinfile: {path: /root/big.txt, block: "k=v"}
    - replace: {path: /root/big.txt, regexp: '^line 1(\\d)\$', replace: 'line one\\1'}
PLAY
cat > "$work/reset.yml" <<PLAY
- hosts: sandbox3.tokenoftrust.com
  gather_facts: false
  tasks:
    - command: cp $work/big.orig /root/big.txt
PLAY
export ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_HOST_KEY_CHECKING=True
time_of() { # tool playbook -> seconds, peak KB
    /usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
    cat "$work/t"
}
row() { # label tool...
    local label=$1; shift
    "$tprov" apply -i "$work/inventory" "$work/reset.yml" >/dev/null
    read -r c1 m1 < <(time_of "$@" -i "$work/inventory" "$work/play.yml")
    read -r c2 m2 < <(time_of "$@" -i "$work/inventory" "$work/play.yml")
    echo "$label $c1 $c2 $m1"
}
read -r _ tc tn tm < <(row tprov "$tprov" apply)
read -r _ ac an am < <(row ansible ansible-playbook)
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
{
    echo "# Large files: lineinfile, blockinfile, replace on 50 MB (issue 12)"
    echo
    echo "Written by \`bench/bigfile.sh\` ($build build) on $(nproc) cores, $(date -u +%Y-%m-%d)."
    echo "One lab host over SSH; the file has 4,000,000 lines (50.9 MB); five tasks:"
    echo "three lineinfile (replace a line near the end, append, remove), one blockinfile,"
    echo "one replace. The first run changes the file five times, the second changes nothing."
    echo
    echo "| | tprov | ansible-playbook 2.19 | tprov / ansible |"
    echo "|---|---|---|---|"
    echo "| first run (5 changes) | ${tc} s | ${ac} s | $(ratio "$tc" "$ac") |"
    echo "| second run (no change) | ${tn} s | ${an} s | $(ratio "$tn" "$an") |"
    echo "| peak memory (first run) | $((tm / 1024)) MB | $((am / 1024)) MB | |"
} > docs/bench-bigfile.md
cat docs/bench-bigfile.md
