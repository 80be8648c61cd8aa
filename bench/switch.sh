#!/usr/bin/env bash
# Benchmark (issue 14): failed requests during a release switch, tprov's `release`
# against the same switch done by hand (`ln -sfn` + `pm2 reload --update-env`), on one
# lab host with real pm2 (cluster of 4, wait_ready) and nginx, under the same load
# (bench/load.py). Two releases each: a good one, and one that crashes at start.
# Writes docs/bench-switch.md. Needs root and the npm registry (pm2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cargo build --release --locked -q
tprov=$root/target/release/tprov
work=$(mktemp -d /tmp/tprov-bench-switch.XXXXXX)
lab=$work/lab
trap '$tprov lab down --dir "$lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
$tprov lab up --dir "$lab" --hosts sandbox3 --no-node --inventory "$work/inventory" >/dev/null
addr=$(awk '$1 == "host" {print $4}' "$lab/state")
on() { ssh -q -o BatchMode=yes -o UserKnownHostsFile="$lab/known_hosts" -i "$lab/id_ed25519" "root@$addr" "$@"; }
fx=$root/tests/fixtures/release
sed "s/LISTEN/$addr:80/" "$fx/nginx.conf" | on 'cat > /srv/rel-nginx.conf'
on 'set -e; npm install -g -s pm2@5.4.3 >/dev/null 2>&1; git init -q --bare -b main /srv/rel-app.git
    git clone -q /srv/rel-app.git /srv/rel-work 2>/dev/null; nginx -c /srv/rel-nginx.conf'
on 'cat > /srv/server.js' < "$fx/server.js"
push() { # version, server file on the host
    on "cd /srv/rel-work && cp $2 server.js && printf '{\"name\": \"rel-app\", \"version\": \"$1\", \"main\": \"server.js\"}\n' > package.json && git add -A && git -c user.email=b@b -c user.name=b commit -qm $1 && git push -q origin HEAD:main && git rev-parse HEAD"
}
on "printf 'throw new Error(\"broken\");\n' > /srv/broken.js"
deploy_tprov() { "$tprov" apply -i "$work/inventory" "$fx/deploy.yml" -e "version=$1" >/dev/null 2>&1 || true; }
deploy_hand() { # as a deploy script does it: export, link, ln -sfn, pm2 reload
    on "set -e; r=/srv/rel-app/releases/\$(date -u +%Y%m%d%H%M%S)-hand; mkdir \$r; git -C /srv/rel-app/repo fetch -q origin && git -C /srv/rel-app/repo checkout -q $1
        git -C /srv/rel-app/repo archive $1 | tar -x -C \$r; ln -s /srv/rel-app/shared/config.json \$r/config.json; mkdir -p \$r/logs
        ln -sfn \$r /srv/rel-app/current; pm2 reload /srv/rel-app/shared/ecosystem.json --update-env >/dev/null 2>&1" || true
}
measure() { # label, command...
    local label=$1; shift
    rm -f "$work/stop"
    python3 "$root/bench/load.py" "$addr:80" "$work/stop" > "$work/load" &
    local pid=$!
    sleep 1; local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); sleep 2
    touch "$work/stop"; wait $pid
    read -r sent failed p99 first < "$work/load" || true
    printf '| %s | %s | %s | %s | %.1f | %s |\n' "$label" "$sent" "$failed" "$p99" "$(echo "$e - $s" | bc -l)" "${first:-}" >> "$work/table"
}
: > "$work/table"
for tool in tprov hand; do
    # The same starting point for both: release 1.0.0 deployed by tprov.
    on 'pm2 delete all >/dev/null 2>&1 || true; rm -rf /srv/rel-app'
    v1=$(push 1.0.0 /srv/server.js); deploy_tprov "$v1"
    good=$(push 1.1.0 /srv/server.js)
    measure "$tool: a good release" "deploy_$tool" "$good"
    bad=$(push 2.0.0 /srv/broken.js)
    measure "$tool: a release that crashes at start" "deploy_$tool" "$bad"
done
python3 - "$work/table" "$root/docs/bench-switch.md" <<'PY'
import sys, datetime, subprocess
rows = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(f"""# Benchmark: failed requests during a release switch

Made by `bench/switch.sh` on {datetime.date.today()} ({subprocess.getoutput('nproc')} cores): one lab host,
pm2 5.4.3 in cluster mode (4 workers, `wait_ready`, `listen_timeout` 8 s), nginx in
front with upstream keep-alive, and bench/load.py sending requests through nginx during
each switch (a new connection per request, keep-alive connections of five requests, and
1.5 s requests that outlive the switch). "tprov" is `tprov apply
tests/fixtures/release/deploy.yml` (the `release` module); "hand" is what a deploy script
does: export the commit into a new release, `ln -sfn` it to `current`, `pm2 reload
ECOSYSTEM --update-env`. Both start from the same release 1.0.0.

| switch | requests | failed or non-2xx | p99 ms | seconds | first failures |
|---|---|---|---|---|---|
{rows}
A release that crashes at start: PM2's reload replaces each worker once `listen_timeout`
passes, whether its successor came up or not, and reports success; the app is down until
someone notices. tprov's canary worker finds the crash while the old workers serve, and
nothing is switched (docs/releases.md).
""")
PY
cat "$root/docs/bench-switch.md"
