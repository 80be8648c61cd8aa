#!/usr/bin/env bash
# Runs Ansible's own integration targets (from the ansible-core 2.19.14 sdist) with tprov
# or with ansible-playbook, counts the assert results that pass, and compares tprov's
# counts with floor.json. See README.md.
#
#   run.sh [--tool tprov|ansible] [--update-floor] [--keep-going] [--work DIR] [TARGET...]
#
# --keep-going (a diagnostic, never with --update-floor): the role runs with
# `ignore_errors: true`, so a target goes on past its failures and every failing task
# shows; its counts are not comparable with the floor.
#
# Environment: TPROV_BIN (default ../../target/debug/tprov beside this script),
# TPROV_TARGETS_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tprov-ansible-targets),
# TPROV_TARGETS_WORK (default ${TMPDIR:-/tmp}/tprov-ansible-targets/TOOL),
# TARGET_TIMEOUT (seconds per target, default 300).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ANSIBLE_CORE_VERSION=2.19.14
TOOL=tprov
UPDATE_FLOOR=
WORK=
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tool) TOOL=$2; shift ;;
    --tool=*) TOOL=${1#--tool=} ;;
    --update-floor) UPDATE_FLOOR=--update-floor ;;
    --keep-going) export KEEP_GOING=1 ;;
    --work) WORK=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1") ;;
  esac
  shift
done
case "$TOOL" in tprov|ansible) ;; *) echo "run.sh: --tool must be tprov or ansible" >&2; exit 2 ;; esac
if [ -n "${KEEP_GOING:-}" ] && [ -n "$UPDATE_FLOOR" ]; then
  echo "run.sh: --keep-going counts are not a floor or a baseline" >&2; exit 2
fi

TPROV=${TPROV_BIN:-$HERE/../../target/debug/tprov}
[ -x "$TPROV" ] || { echo "run.sh: no tprov binary at $TPROV (set TPROV_BIN)" >&2; exit 2; }
TPROV=$(cd "$(dirname "$TPROV")" && pwd)/$(basename "$TPROV")
CACHE=${TPROV_TARGETS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tprov-ansible-targets}
WORK=${WORK:-${TPROV_TARGETS_WORK:-${TMPDIR:-/tmp}/tprov-ansible-targets/$TOOL${KEEP_GOING:+-keep-going}}}
TIMEOUT=${TARGET_TIMEOUT:-300}
mkdir -p "$CACHE" "$WORK"
WORK=$(cd "$WORK" && pwd)

# --- the targets: ansible-core's sdist from PyPI, extracted once into the cache -----
SDIST_DIR=$CACHE/ansible_core-$ANSIBLE_CORE_VERSION
SDIST_TARGETS=$SDIST_DIR/test/integration/targets
if [ ! -d "$SDIST_TARGETS" ]; then
  tarball=$CACHE/ansible_core-$ANSIBLE_CORE_VERSION.tar.gz
  if [ ! -f "$tarball" ]; then
    echo "run.sh: fetching the ansible-core $ANSIBLE_CORE_VERSION sdist from PyPI into $CACHE"
    python3 -m pip download --quiet --no-binary :all: --no-deps \
      "ansible-core==$ANSIBLE_CORE_VERSION" -d "$CACHE"
  fi
  rm -rf "$SDIST_DIR.partial" && mkdir -p "$SDIST_DIR.partial"
  tar -xzf "$tarball" -C "$SDIST_DIR.partial" "ansible_core-$ANSIBLE_CORE_VERSION/test/integration/targets"
  mv "$SDIST_DIR.partial/ansible_core-$ANSIBLE_CORE_VERSION" "$SDIST_DIR"
  rmdir "$SDIST_DIR.partial"
fi

if [ "$TOOL" = ansible ]; then
  command -v ansible-playbook >/dev/null || { echo "run.sh: ansible-playbook not found" >&2; exit 2; }
  v=$(ansible-playbook --version 2>&1 || true)
  v=${v%%$'\n'*}
  case "$v" in *"core $ANSIBLE_CORE_VERSION"*) ;; *) echo "run.sh: warning: $v, the baseline is for $ANSIBLE_CORE_VERSION" >&2 ;; esac
  REAL_ANSIBLE_PLAYBOOK=$(command -v ansible-playbook)
  # setup_passlib_controller: password_hash needs passlib on the controller (filter_core,
  # filter_mathstuff); installed once into the cache, the machine's Python is not touched.
  PYLIB=$CACHE/pylib
  if [ ! -d "$PYLIB/passlib" ]; then
    python3 -m pip install --quiet --target "$PYLIB" passlib
  fi
fi

export HARNESS_DIR=$HERE SDIST_TARGETS WORK TOOL
H() { python3 "$HERE/lib/harness.py" "$@"; }

for d in "$WORK"/labs/*/; do   # labs a killed run left up
  [ -f "$d/state" ] && "$TPROV" lab down --dir "$d" >/dev/null 2>&1 || true
done
rm -rf "$WORK/targets" "$WORK/out" "$WORK/scratch" "$WORK/shim" "$WORK/bin" "$WORK/labs" "$WORK/nested"
mkdir -p "$WORK/out" "$WORK/shim" "$WORK/bin" "$WORK/labs" "$WORK/nested"
cp "$HERE/lib/shim/ansible-playbook" "$WORK/shim/ansible-playbook"
cp "$TPROV" "$WORK/bin/tprov"       # the binary may be rebuilt while this runs
TPROV=$WORK/bin/tprov

# --- the lab: one sshd host, fresh for every target; always stopped on exit ----------
# Every tool run happens *inside* the lab host (over ssh): its root is a copy-on-write
# overlay of this machine's, so whatever a target does (users, /etc, files the
# controller side writes, `delegate_to: localhost`) stays in the lab and is gone at
# `lab down`. Role-style `lab` targets reach `testhost` over SSH (the lab host itself);
# the controller-side modes use `ansible_connection=local` there.
# Each target gets its own lab dir (WORK/labs/T); the previous lab is brought down
# before the next one starts. On exit every lab is brought down.
LAB_DIRS=()
DOWN_PIDS=()
LAB_DIR=
lab_down() {   # the current lab, in the background
  if [ -n "$LAB_DIR" ]; then
    "$TPROV" lab down --dir "$LAB_DIR" >/dev/null 2>&1 &
    DOWN_PIDS+=($!)
    LAB_DIR=
  fi
}
all_labs_down() {
  local p d
  for p in "${DOWN_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${LAB_DIRS[@]}"; do "$TPROV" lab down --dir "$d" >/dev/null 2>&1 || true; done
}
trap all_labs_down EXIT
trap 'all_labs_down; exit 130' INT TERM
LAB_SSH=()
lab_up() {   # lab_up T
  lab_down
  # The previous lab is gone before the next starts: its files vanishing under /tmp
  # while a target lists /tmp (changed_when's `ls -al /tmp`) made that target flaky.
  local p
  for p in "${DOWN_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  DOWN_PIDS=()
  LAB_DIR=$WORK/labs/$1
  LAB_DIRS+=("$LAB_DIR")
  "$TPROV" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true   # a lab left by a killed run
  rm -rf "$LAB_DIR"
  "$TPROV" lab up --count 1 --no-node --dir "$LAB_DIR" --inventory "$LAB_DIR.inventory" >/dev/null
  LAB_CONN=$(H labconn "$LAB_DIR.inventory")
  export LAB_CONN
  local host port user key kh
  read -r host port user key kh < <(H labssh "$LAB_DIR.inventory")
  LAB_SSH=(ssh -q -i "$key" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=yes
           -o UserKnownHostsFile="$kh" "$user@$host")
}
# in_lab SCRIPT: runs a bash script on the lab host.
in_lab() { "${LAB_SSH[@]}" "bash -c $(printf '%q' "$1")" </dev/null; }
q() { printf '%q' "$1"; }

LABOUT=/tmp/tprov-ansible-targets-out    # where the tools write, inside the lab host

run_target() {
  local t=$1 mode=$2 extra=$3 tdir out start rc to=false envs cmd
  tdir=$WORK/targets/$t
  out=$WORK/out
  lab_up "$t"
  H prep "$t"
  # A task that runs `ansible-playbook` (copy's no_log.yml) gets tprov, as under
  # ansible-test it gets the Ansible under test: the shim, first in the lab's PATH
  # (over SSH too, through root's .bashrc in the lab's overlay).
  local nested=$WORK/nested/$t
  rm -rf "$nested" && mkdir -p "$nested"
  printf '[ungrouped]\n' >"$nested/empty-inventory"
  {
    echo '#!/usr/bin/env bash'
    echo "export SHIM_CALLS=$LABOUT/$t.nested.jsonl HARNESS_TOOL=tprov TPROV=$(q "$TPROV")"
    echo "export SHIM_EMPTY_INVENTORY=$(q "$nested/empty-inventory")"
    echo "exec $(q "$WORK/shim/ansible-playbook") \"\$@\""
  } >"$nested/ansible-playbook"
  chmod +x "$nested/ansible-playbook"
  # the target, the lab's key and known_hosts, the shim: copied into the lab host
  tar -C / -cf - "${WORK#/}/targets/$t" "${WORK#/}/scratch/$t" "${WORK#/}/shim" "${nested#/}" \
      "${LAB_DIR#/}/id_ed25519" "${LAB_DIR#/}/known_hosts" \
    | "${LAB_SSH[@]}" "rm -rf $LABOUT && mkdir -p $LABOUT && tar -C / -xf -"
  envs="export PATH=$(q "$PATH") HOME=$(q "$HOME") LC_ALL=C.UTF-8 TPROV=$(q "$TPROV")"
  envs+=" OUTPUT_DIR=$(q "$(cat "$tdir/output_dir")") ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0"
  if [ "$TOOL" = ansible ]; then
    envs+=" ANSIBLE_CALLBACK_PLUGINS=$(q "$HERE/lib/callback_plugins") ANSIBLE_CALLBACKS_ENABLED=jsonl_results"
    envs+=" JSONL_RESULTS_FILE=$LABOUT/$t.jsonl ANSIBLE_HOST_KEY_CHECKING=False"
    envs+=" PYTHONPATH=$(q "$PYLIB${PYTHONPATH:+:$PYTHONPATH}") REAL_ANSIBLE_PLAYBOOK=$(q "$REAL_ANSIBLE_PLAYBOOK")"
  fi
  if [ "$TOOL" = tprov ] && [ "$mode" != runme ]; then
    in_lab "echo $(q "export PATH=$nested:\$PATH") >>/root/.bashrc"
    envs+="; export PATH=$(q "$nested"):\$PATH"
  fi
  if [ "$mode" = runme ]; then
    envs+=" SHIM_CALLS=$LABOUT/$t.calls.jsonl HARNESS_TOOL=$TOOL INVENTORY_PATH=$(q "$tdir/inventory")"
    envs+=" SHIM_EMPTY_INVENTORY=$(q "$tdir/empty-inventory") TMPDIR=$(q "$WORK/scratch/$t")"
    envs+="; export PATH=$(q "$WORK/shim:$PATH")"
    cmd="cd $(q "$tdir/targets/$t") && timeout $TIMEOUT bash ./runme.sh >$LABOUT/$t.txt 2>$LABOUT/$t.err"
  elif [ "$TOOL" = tprov ]; then
    cmd="cd $(q "$tdir") && timeout $TIMEOUT \"\$TPROV\" apply -i inventory site.yml $extra --format json >$LABOUT/$t.jsonl 2>$LABOUT/$t.err"
  else
    envs+=" ANSIBLE_PIPELINING=1 ANSIBLE_ROLES_PATH=$(q "$tdir/roles")"
    cmd="cd $(q "$tdir") && timeout $TIMEOUT ansible-playbook -i inventory site.yml $extra >$LABOUT/$t.txt 2>$LABOUT/$t.err"
  fi
  start=$(date +%s.%N)
  set +e
  in_lab "$envs; $cmd </dev/null; echo \$? >$LABOUT/$t.rc"
  "${LAB_SSH[@]}" "tar -C $LABOUT -cf - ." </dev/null | tar -C "$out" -xf -
  rc=$(cat "$out/$t.rc" 2>/dev/null || echo 255)
  set -e
  [ "$rc" = 124 ] && to=true
  python3 -c 'import json,sys,time; print(json.dumps({"rc": int(sys.argv[1]), "seconds": round(time.time() - float(sys.argv[2]), 2), "timeout": sys.argv[3] == "true"}))' \
    "$rc" "$start" "$to" >"$out/$t.meta.json"
  H summarize "$t"
  lab_down
  return 0
}

t0=$(date +%s)
mapfile -t LIST < <(H list "${TARGETS[@]}")
for entry in "${LIST[@]}"; do
  read -r t mode state extra <<<"$entry"
  [ "$state" = skip ] && continue
  printf '%-22s ' "$t" >&2
  run_target "$t" "$mode" "$extra"
  H line "$t" >&2
done
echo "($TOOL pass: $(( $(date +%s) - t0 )) s)"
echo
H report $UPDATE_FLOOR "${TARGETS[@]}"
