#!/usr/bin/env bash
# Benchmark (issue 3): `tprov run -- true` over N lab hosts, against the OpenSSH client
# run to the same hosts in parallel and `ansible all -m command -a true` (forks = N),
# alternating, medians of $RUNS rounds. Writes docs/bench-run.md. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${1:-30}
runs=${RUNS:-5}
command -v ansible >/dev/null || pip install -q 'ansible-core==2.19.*'
cargo build --release --locked -q
tprov=$root/target/release/tprov
work=$(mktemp -d /tmp/tprov-bench-run.XXXXXX)
lab=$work/lab
trap '$tprov lab down --dir "$lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
$tprov lab up --dir "$lab" --count "$n" --inventory "$lab/inventory" >/dev/null
awk '$1 == "host" {print $4}' "$lab/state" > "$lab/hosts.txt"
printf '[defaults]\nforks = %s\n[ssh_connection]\npipelining = True\n' "$n" > "$lab/ansible.cfg"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || echo "failed: $*" >&2; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
: > "$work/r"
for _ in $(seq "$runs"); do
    echo "ssh $(t sh -c "xargs -P $n -I{} ssh -o BatchMode=yes -o UserKnownHostsFile=$lab/known_hosts -i $lab/id_ed25519 root@{} true < $lab/hosts.txt")" >> "$work/r"
    echo "tprov $(t "$tprov" run -i "$lab/inventory" -f "$n" -- true)" >> "$work/r"
    echo "ansible $(t env ANSIBLE_CONFIG="$lab/ansible.cfg" ansible all -i "$lab/inventory" -m command -a true)" >> "$work/r"
done
python3 - "$work/r" "$root/docs/bench-run.md" "$n" "$runs" <<'PY'
import sys, statistics, collections, datetime, subprocess
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    t, s = l.split(); d[t].append(float(s))
m = {k: statistics.median(v) for k, v in d.items()}
out = [
    "# Benchmark: one command on every host",
    "",
    f"Made by `bench/run.sh {sys.argv[3]}` on {datetime.date.today()} ({subprocess.getoutput('nproc')} cores), {sys.argv[3]} lab hosts, medians of {sys.argv[4]} alternating rounds.",
    "",
    "| tool | seconds | vs OpenSSH fan-out |",
    "|---|---|---|",
    f"| OpenSSH `ssh host true`, all hosts in parallel | {m['ssh']:.2f} | 1.00x |",
    f"| `tprov run -- true` | {m['tprov']:.2f} | {m['tprov']/m['ssh']:.2f}x |",
    f"| `ansible all -m command -a true` (forks={sys.argv[3]}, pipelining) | {m['ansible']:.2f} | {m['ansible']/m['ssh']:.2f}x |",
]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
