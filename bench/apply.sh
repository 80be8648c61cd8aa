#!/usr/bin/env bash
# Benchmark (issue 4): ../shared/bench/provision.yml with tprov, ansible-playbook and
# pyinfra (its equivalent, ../shared/bench/pyinfra), cold (fresh hosts) and no-op (run
# again), with the OpenSSH floor (`ssh host true` to every host in parallel) in the same
# run. Tools alternate within each round; medians of $RUNS rounds. Writes docs/bench.md.
# Needs root (the lab). Usage: bench/apply.sh [SIZES...]   (default: 1 10 30)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sizes=${*:-1 10 30}
runs=${RUNS:-3}
bench=$root/../shared/bench
[ -f "$bench/provision.yml" ] || { echo "missing $bench/provision.yml" >&2; exit 1; }
command -v ansible-playbook >/dev/null || pip install -q 'ansible-core==2.19.*'
command -v pyinfra >/dev/null || pip install -q pyinfra
cargo build --release --locked -q
tprov=$root/target/release/tprov
work=$(mktemp -d /tmp/tprov-bench.XXXXXX)
lab=$work/lab
trap '$tprov lab down --dir "$lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

up() {
    $tprov lab down --dir "$lab" >/dev/null 2>&1 || true
    $tprov lab up --dir "$lab" --count "$1" --inventory "$lab/inventory" >/dev/null
    # pyinfra's inventory for the same hosts.
    python3 - "$lab" <<'PY'
import sys, re
lab = sys.argv[1]
hosts = []
for line in open(f"{lab}/state"):
    p = line.split()
    if p[0] == "host":
        hosts.append((p[1], p[3]))
with open(f"{lab}/pyinfra_inventory.py", "w") as f:
    f.write("sandbox = [\n")
    for name, addr in hosts:
        f.write(f"    ({name!r}, {{'ssh_hostname': {addr!r}, 'ssh_user': 'root', 'ssh_key': '{lab}/id_ed25519', "
                f"'ssh_known_hosts_file': '{lab}/known_hosts', 'ssh_strict_host_key_checking': 'yes'}}),\n")
    f.write("]\n")
with open(f"{lab}/hosts.txt", "w") as f:
    f.write("\n".join(a for _, a in hosts) + "\n")
PY
    printf '[defaults]\nforks = %s\nhost_key_checking = True\n[ssh_connection]\npipelining = True\n' "$1" > "$lab/ansible.cfg"
}

# One timed run: prints "seconds peak_kb status".
timed() {
    local out=$work/time status=0
    /usr/bin/time -f "%e %M" -o "$out" "$@" >"$work/last.log" 2>&1 || status=$?
    echo "$(cat "$out" | tail -1) $status"
}

run_tool() {
    case $1 in
        tprov) (cd "$bench" && timed "$tprov" apply -i "$lab/inventory" provision.yml -e "deployKeySrc=$lab/deploy_key" -f 100) ;;
        ansible) (cd "$bench" && ANSIBLE_CONFIG=$lab/ansible.cfg timed ansible-playbook -i "$lab/inventory" provision.yml -e "deployKeySrc=$lab/deploy_key") ;;
        pyinfra) (cd "$bench/pyinfra" && DEPLOY_KEY_SRC=$lab/deploy_key timed pyinfra -y --parallel 100 "$lab/pyinfra_inventory.py" provision.py) ;;
        ssh) timed sh -c "xargs -P 100 -I{} ssh -o BatchMode=yes -o UserKnownHostsFile=$lab/known_hosts -o StrictHostKeyChecking=yes -i $lab/id_ed25519 root@{} true < $lab/hosts.txt" ;;
    esac
}

results=$work/results
: > "$results"
for n in $sizes; do
    for r in $(seq "$runs"); do
        for tool in ssh tprov ansible pyinfra; do
            up "$n"
            cold=$(run_tool $tool)
            if [ "${cold##* }" != 0 ]; then echo "$tool failed (cold, $n hosts):" >&2; tail -20 "$work/last.log" >&2; fi
            noop=$(run_tool $tool)
            if [ "${noop##* }" != 0 ]; then echo "$tool failed (no-op, $n hosts):" >&2; tail -20 "$work/last.log" >&2; fi
            echo "$n $tool $cold $noop" >> "$results"
            echo "  $n hosts, round $r, $tool: cold ${cold% *}, no-op ${noop% *}" >&2
        done
    done
done

python3 - "$results" "$root/docs/bench.md" "$runs" "$sizes" <<'PY'
import sys, statistics, collections, datetime, subprocess
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
data = collections.defaultdict(lambda: {"cold": [], "noop": [], "mem": []})
for n, tool, c, cm, cs, o, om, os_ in rows:
    d = data[(int(n), tool)]
    d["cold"].append(float(c)); d["noop"].append(float(o)); d["mem"].append(max(int(cm), int(om)))
med = lambda v: statistics.median(v) if v else float("nan")
sizes = sorted({k[0] for k in data})
lines = [
    "# Benchmark: the reference provisioning playbook",
    "",
    f"Made by `bench/apply.sh` on {datetime.date.today()} ({subprocess.getoutput('nproc')} cores, lab hosts on this machine), "
    f"medians of {sys.argv[3]} rounds, tools alternating within each round.",
    "Workload: `../shared/bench/provision.yml` (12 tasks, 17 module runs per host) for tprov and",
    "ansible-playbook (pipelining, forks = hosts), `../shared/bench/pyinfra/provision.py` for pyinfra.",
    "Cold: fresh hosts. No-op: the same playbook again. Peak memory: the controller process's max RSS",
    "(ansible's forked workers are not included in its figure).",
    "",
    "| hosts | tool | cold (s) | no-op (s) | no-op vs OpenSSH floor | cold: ansible / tool | peak RSS (MB) |",
    "|---|---|---|---|---|---|---|",
]
for n in sizes:
    floor = med(data[(n, "ssh")]["noop"])
    ansible_cold = med(data[(n, "ansible")]["cold"])
    for tool in ["ssh", "tprov", "pyinfra", "ansible"]:
        d = data.get((n, tool))
        if not d: continue
        c, o = med(d["cold"]), med(d["noop"])
        name = {"ssh": "OpenSSH `ssh host true` (floor)", "tprov": "tprov", "pyinfra": "pyinfra 3.10", "ansible": "ansible-playbook 2.19"}[tool]
        vs_floor = "1.00x" if tool == "ssh" else f"{o / floor:.2f}x"
        vs_ans = "" if tool == "ssh" else f"{ansible_cold / c:.1f}x"
        lines.append(f"| {n} | {name} | {c:.2f} | {o:.2f} | {vs_floor} | {vs_ans} | {max(d['mem']) / 1024:.0f} |")
lines += ["", "Command: `bench/apply.sh " + sys.argv[4] + "` (as root)."]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
