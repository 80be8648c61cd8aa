#!/usr/bin/env bash
# Differential fuzzing against ansible-core: random inventories (INI, YAML, group_vars
# precedence) and random template expressions, each read by Ansible and by tprov, and
# every difference printed. Not part of CI (minutes, and Ansible's own random set order
# makes a few template differences expected); run it after touching inventory, vars or
# templating code:   tests/oracle/fuzz/run.sh [CASES]   (default 100 of each kind)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
tprov="$root/target/release/tprov"
n="${1:-100}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -x "$tprov" ] || (cd "$root" && cargo build --release -q)
export ANSIBLE_INVENTORY_UNPARSED_WARNING=False

inventory_case() { # kind seed
    local d="$work/$1-$2" file
    mkdir -p "$d"
    case "$1" in
        ini) file="$d/hosts"; python3 "$here/gen_ini.py" "$2" > "$file" ;;
        yaml) file="$d/hosts.yml"; python3 "$here/gen_yaml.py" "$2" > "$file" ;;
        precedence) file="$d/hosts"; python3 "$here/gen_precedence.py" "$2" "$d" ;;
    esac
    ansible-inventory -i "$file" --list > "$d/a.json" 2> "$d/a.err"; local a=$?
    "$tprov" inventory -i "$file" --list > "$d/t.json" 2> "$d/t.err"; local t=$?
    if grep -q "WARNING\|ERROR" "$d/a.err" || [ $a != 0 ]; then
        # Ansible fell back to an empty inventory or failed: tprov must fail too.
        if [ $t = 0 ] && ! cmp -s "$d/a.json" "$d/t.json"; then
            echo "$1 $2: Ansible refused it, tprov read it:"; cat "$file"; head -3 "$d/a.err"
        fi
    elif [ $t != 0 ]; then
        echo "$1 $2: tprov failed: $(head -c 300 "$d/t.err")"; cat "$file"
    elif ! cmp -s "$d/a.json" "$d/t.json"; then
        echo "$1 $2: --list differs"; cat "$file"
        diff <(python3 -m json.tool "$d/a.json") <(python3 -m json.tool "$d/t.json") | head -20
    fi
}

for kind in ini yaml precedence; do
    for seed in $(seq 1 "$n"); do inventory_case "$kind" "$seed"; done
done

python3 - "$here" "$root" "$tprov" "$n" <<'PY'
import json, subprocess, sys
here, root, tprov, n = sys.argv[1:]
inv = root + "/tests/fixtures/inventories/filters/hosts"
ts = json.loads(subprocess.run(["python3", here + "/gen_templates.py", "1", str(int(n) * 4)], capture_output=True, text=True).stdout)
req = {"inventory": inv, "templates": {"h1": ts}}
a = json.loads(subprocess.run(["python3", root + "/tests/oracle/ansible_oracle.py"], input=json.dumps(req), capture_output=True, text=True).stdout)["templates"]["h1"]
o = json.loads(subprocess.run([tprov, "eval", "--json", "-i", inv, "h1"] + ts, capture_output=True, text=True).stdout)
for t in ts:
    A, O = a[t], o.get(t, {})
    if ("error" in A) != ("error" in O) or ("error" not in A and A.get("value") != O.get("value")):
        print("template", t, "\n  ansible:", str(A)[:200], "\n  tprov:  ", str(O)[:200])
PY
