#!/usr/bin/env python3
"""The Python half of run.sh: prepares targets, reads results, prints the table.

  harness.py list                       targets to run (after targets.txt and skip.txt)
  harness.py prep T                     write WORK/targets/T (site.yml, inventory, roles/T)
  harness.py summarize T                read WORK/out/T.* -> WORK/out/T.summary.json
  harness.py report                     table + WORK/results.json (+ floor check)

Configuration comes from the environment run.sh sets: HARNESS_DIR, SDIST_TARGETS, WORK,
TOOL, LAB_CONN (the lab host's connection vars, one INI line), TARGET_FILTER.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HARNESS = Path(os.environ.get('HARNESS_DIR', Path(__file__).resolve().parent.parent))
SDIST = Path(os.environ.get('SDIST_TARGETS', '/nonexistent'))
WORK = Path(os.environ.get('WORK', '/tmp/tprov-ansible-targets'))
TOOL = os.environ.get('TOOL', 'tprov')

# Where the role-style targets keep their scratch files on the lab host (remote_tmp_dir).
REMOTE_TMP = '/tmp/tprov-targets-remote'


# --------------------------------------------------------------------------- config
def read_targets():
    """targets.txt -> [(name, mode, {opt: value})] in file order."""
    out = []
    for line in (HARNESS / 'targets.txt').read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        opts = {}
        for p in parts[2:]:
            k, _, v = p.partition('=')
            opts[k] = v
        out.append((parts[0], parts[1], opts))
    return out


def read_skips():
    """skip.txt -> {target: reason} for whole targets, {target: [(file, reason)]} for parts."""
    whole, parts = {}, {}
    for line in (HARNESS / 'skip.txt').read_text().splitlines():
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        entry, _, reason = line.strip().partition(' ')
        reason = reason.strip()
        if '/' in entry:
            t, f = entry.split('/', 1)
            parts.setdefault(t, []).append((f, reason))
        else:
            whole[entry] = reason
    return whole, parts


def target_info(name):
    for t in read_targets():
        if t[0] == name:
            return t
    raise SystemExit(f'unknown target {name} (not in targets.txt)')


def lab_conn(inv: Path) -> str:
    """The connection vars of the one host of `tprov lab up --count 1`'s inventory, as one
    INI line for `testhost` (address, port, user, key, known_hosts, interpreter)."""
    import shlex
    host_vars, all_vars, section = {}, {}, None
    for line in inv.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('['):
            section = line.strip('[]')
            continue
        if section == 'all:vars':
            k, _, v = line.partition('=')
            all_vars[k.strip()] = ' '.join(shlex.split(v.strip())) if v.strip()[:1] in '\'"' else v.strip()
        elif section and ':' not in section and not host_vars:
            toks = shlex.split(line)
            for t in toks[1:]:
                k, _, v = t.partition('=')
                host_vars[k] = v
    keep = {k: v for k, v in host_vars.items() if k.startswith('ansible_')}
    keep.update({k: v for k, v in all_vars.items() if k.startswith('ansible_')})
    if 'ansible_host' not in keep:
        raise SystemExit(f'{inv}: no lab host found')
    return ' '.join(f"{k}={shlex.quote(v) if (' ' in v) else v}" for k, v in keep.items())


# --------------------------------------------------------------------------- prep
def remove_task_items(path: Path, fname: str) -> int:
    """Removes from a tasks file every list item that imports/includes `fname`
    (`- import_tasks: fname`, `- include_tasks: fname`, or `file: fname` under them),
    with all its continuation lines. Line-based, so comments, tags (!unsafe, !vault)
    and formatting of everything else stay byte for byte."""
    lines = path.read_text().splitlines(keepends=True)
    ref = re.compile(r'(?:(?:ansible\.builtin\.)?(?:import|include)_tasks|file)\s*:\s*["\']?'
                     + re.escape(fname) + r'["\']?\s*$')
    item = re.compile(r'^(\s*)- ')
    out, i, removed = [], 0, 0
    while i < len(lines):
        m = item.match(lines[i])
        if m:
            ind = len(m.group(1))
            j = i + 1
            while j < len(lines):
                s = lines[j]
                if s.strip() == '' or s.lstrip().startswith('#'):
                    j += 1
                    continue
                lead = len(s) - len(s.lstrip())
                if lead <= ind:
                    break
                j += 1
            # trailing blank/comment lines belong to whatever follows
            while j > i + 1 and (lines[j - 1].strip() == '' or lines[j - 1].lstrip().startswith('#')):
                j -= 1
            body = lines[i:j]
            first = body[0][m.end():]
            own = [first] + [b.strip() for b in body[1:]]
            # the reference must be this item's own key (not a nested block's item)
            nested = any(item.match(b) for b in body[1:])
            if any(ref.search(x.strip()) for x in own) and not nested:
                removed += 1
                i = j
                continue
        out.append(lines[i])
        i += 1
    if removed:
        path.write_text(''.join(out))
    return removed


def drop_task(path: Path, task_name: str) -> int:
    """Removes the list item whose `- name:` is task_name (adapt/ scripts use this)."""
    lines = path.read_text().splitlines(keepends=True)
    head = re.compile(r'^(\s*)- name:\s*["\']?' + re.escape(task_name) + r'["\']?\s*$')
    for i, line in enumerate(lines):
        m = head.match(line)
        if not m:
            continue
        ind = len(m.group(1))
        j = i + 1
        while j < len(lines):
            s = lines[j]
            if s.strip() and not s.lstrip().startswith('#') and len(s) - len(s.lstrip()) <= ind:
                break
            j += 1
        while j > i + 1 and (lines[j - 1].strip() == '' or lines[j - 1].lstrip().startswith('#')):
            j -= 1
        path.write_text(''.join(lines[:i] + lines[j:]))
        return 1
    raise SystemExit(f'{path}: no task named {task_name!r}')


def copytree(src: Path, dst: Path):
    shutil.copytree(src, dst, symlinks=True)


def yaml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid YAML scalar


def prep(name):
    name, mode, opts = target_info(name)
    src = SDIST / name
    if not src.is_dir():
        raise SystemExit(f'{name}: not in the sdist ({src})')
    tdir = WORK / 'targets' / name
    if tdir.exists():
        shutil.rmtree(tdir)
    tdir.mkdir(parents=True)
    ctl_tmp = WORK / 'scratch' / name           # controller-side scratch dir of this target
    if ctl_tmp.exists():
        shutil.rmtree(ctl_tmp)
    ctl_tmp.mkdir(parents=True)
    notes = []

    if mode == 'runme':
        # WORK/targets/T/targets/T, so the script's `-i ../../inventory` finds ours.
        root = tdir / 'targets' / name
        copytree(src, root)
        for r in [r for r in opts.get('roles', '').split(',') if r]:
            copytree(SDIST / r, tdir / 'targets' / r)   # needs/target/R: ../R beside it
            notes.append(f'sibling target {r} copied in from the sdist')
        # what ansible-playbook reads with no -i (no /etc/ansible/hosts): no hosts
        (tdir / 'empty-inventory').write_text('[ungrouped]\n')
        inv = tdir / 'inventory'
        inv.write_text('[testgroup]\ntesthost ansible_connection=local '
                       f'ansible_python_interpreter={sys.executable}\n')
        apply_adapt(name, root, ctl_tmp, notes)
        (tdir / 'ADAPTATIONS.txt').write_text('\n'.join(notes) + '\n')
        (tdir / 'output_dir').write_text(str(ctl_tmp))
        return

    role = tdir / 'roles' / name
    copytree(src, role)
    deps = [d for d in opts.get('deps', '').split(',') if d]
    meta = role / 'meta' / 'main.yml'
    if meta.exists():
        meta.unlink()
        notes.append('meta/main.yml deleted (setup_remote_tmp_dir replaced by pre_tasks;'
                     ' prepare_tests/setup_nobody/setup_gnutar not needed on Debian)')
    if deps:
        meta.parent.mkdir(exist_ok=True)
        meta.write_text('dependencies:\n' + ''.join(f'  - {d}\n' for d in deps))
        notes.append(f'meta/main.yml rewritten with dependencies {deps}')
    for r in [r for r in opts.get('roles', '').split(',') if r]:
        copytree(SDIST / r, tdir / 'roles' / r)
        m = tdir / 'roles' / r / 'meta' / 'main.yml'
        if m.exists():
            m.unlink()
        notes.append(f'role {r} copied in from the sdist')

    # parts dropped by skip.txt
    _, parts = read_skips()
    for fname, reason in parts.get(name, []):
        n = 0
        for tf in sorted((role / 'tasks').rglob('*.yml')):
            n += remove_task_items(tf, fname)
        if n == 0:
            raise SystemExit(f'{name}: skip.txt entry {fname} matched no import/include')
        notes.append(f'skip.txt: dropped the import of {fname} ({reason})')

    apply_adapt(name, role, ctl_tmp, notes)

    # the play
    if mode == 'lab':
        hosts = 'testhost'
        rtmp = f'{REMOTE_TMP}/{name}'
        inv_text = '[testgroup]\ntesthost ' + os.environ.get('LAB_CONN', '') + '\n'
    elif mode == 'local':
        hosts = 'testhost'
        rtmp = str(ctl_tmp / 'remote_tmp')
        inv_text = ('[testgroup]\ntesthost ansible_connection=local '
                    f'ansible_python_interpreter={sys.executable}\n')
    elif mode == 'localhost':
        hosts = 'localhost'
        rtmp = str(ctl_tmp / 'remote_tmp')
        if 'inventory' in opts:
            inv_text = (src / opts['inventory']).read_text()
        else:
            # no hosts: the play runs on the implicit localhost
            inv_text = '[ungrouped]\n'
        # beside the playbook, as for the target's own runme.yml (playbook_dir/files,
        # cwd-relative 'files/...' paths)
        for d in ('host_vars', 'files'):
            if (src / d).is_dir():
                copytree(src / d, tdir / d)
        for extra in ('vault-password',):
            if (src / extra).exists():
                shutil.copy(src / extra, tdir / extra)
    else:
        raise SystemExit(f'{name}: unknown mode {mode}')
    (tdir / 'inventory').write_text(inv_text)

    gather = opts.get('gather', 'yes') not in ('no', 'false')
    # --keep-going (diagnostic): every failure is ignored, so the whole target runs
    keep = '\n      ignore_errors: true' if os.environ.get('KEEP_GOING') else ''
    site = f"""# Written by the tprov ansible-targets harness (lib/harness.py prep {name}).
- hosts: {hosts}
  gather_facts: {'true' if gather else 'false'}
  pre_tasks:
    # stands in for the setup_remote_tmp_dir dependency: a fresh dir
    - name: harness | remove the scratch dir
      file:
        path: {yaml_str(rtmp)}
        state: absent
    - name: harness | create the scratch dir
      file:
        path: {yaml_str(rtmp)}
        state: directory
    - name: harness | remote_tmp_dir and output_dir
      set_fact:
        remote_tmp_dir: {yaml_str(rtmp)}
        output_dir: {yaml_str(rtmp)}
  roles:
    - role: {name}{keep}
"""
    (tdir / 'site.yml').write_text(site)
    (tdir / 'output_dir').write_text(rtmp)   # run.sh exports it as OUTPUT_DIR (lookup_pipe, filter_core)
    (tdir / 'ADAPTATIONS.txt').write_text('\n'.join(notes) + '\n')


def apply_adapt(name, root: Path, ctl_tmp: Path, notes):
    """adapt/T.sh (if any) runs in the copied target with CTL_TMP set; adapt/T.patch
    (if any) is applied with patch -p1 in the copied target."""
    sh = HARNESS / 'adapt' / f'{name}.sh'
    pt = HARNESS / 'adapt' / f'{name}.patch'
    env = dict(os.environ, CTL_TMP=str(ctl_tmp), TARGET_DIR=str(root))
    if pt.exists():
        subprocess.run(['patch', '-s', '-p1', '-i', str(pt)], cwd=root, check=True)
        notes.append(f'adapt/{name}.patch applied')
    if sh.exists():
        subprocess.run(['bash', '-euo', 'pipefail', str(sh)], cwd=root, env=env, check=True)
        notes.append(f'adapt/{name}.sh applied')


# --------------------------------------------------------------------------- summarize
def norm_action(a: str) -> str:
    for p in ('ansible.builtin.', 'ansible.legacy.'):
        if a.startswith(p):
            return a[len(p):]
    return a


def result_msg(ev) -> str:
    if 'msg' in ev and not isinstance(ev.get('result'), dict):
        return str(ev.get('msg') or '')
    r = ev.get('result') or {}
    for k in ('msg', 'stderr', 'exception'):
        v = r.get(k)
        if v:
            v = v if isinstance(v, str) else json.dumps(v)
            if r.get('assertion') and 'assertion' not in v.lower()[20:]:
                v += f": {r['assertion']}"
            return v
    return ''


def fold(events):
    """Result events -> one per (task occurrence, host): loop items folded, as Ansible
    reports a looped task once."""
    out = []
    task = None
    seq = 0
    pending = {}  # host -> folded result for the current task occurrence (items)

    def flush():
        for h, r in pending.items():
            out.append(r)
        pending.clear()

    for ev in events:
        e = ev.get('event')
        if e in ('task', 'handler'):
            flush()
            # ansible-playbook names a role's task "ROLE : name"; tprov, "name"
            task = re.sub(r'^[\w.-]+ : ', '', ev.get('name', ''))
            seq += 1
        elif e == 'result':
            st = ev.get('status', '')
            rec = {'task': task, 'seq': seq, 'action': norm_action(ev.get('action', '')),
                   'host': ev.get('host', ''), 'status': st, 'msg': result_msg(ev)}
            if 'item' in ev:  # tprov: one event per loop item
                cur = pending.get(rec['host'])
                if cur is None:
                    rec['items'] = [st]
                    pending[rec['host']] = rec
                else:
                    cur['items'].append(st)
                    if not cur.get('failmsg') and st in ('failed', 'ignored'):
                        cur['msg'] = rec['msg']
                        cur['failmsg'] = True
                    for bad in ('unreachable', 'failed', 'ignored'):
                        if bad in cur['items']:
                            cur['status'] = bad
                            break
                    else:
                        if all(s == 'skipped' for s in cur['items']):
                            cur['status'] = 'skipped'
                        elif 'changed' in cur['items']:
                            cur['status'] = 'changed'
                        else:
                            cur['status'] = 'ok'
            else:
                flush()
                out.append(rec)
    flush()
    return out


def read_jsonl(p: Path):
    evs = []
    if p.exists():
        for line in p.read_text(errors='replace').splitlines():
            line = line.strip()
            if line.startswith('{'):
                try:
                    evs.append(json.loads(line))
                except ValueError:
                    pass
    return evs


def first_error_line(p: Path) -> str:
    if not p.exists():
        return ''
    text = p.read_text(errors='replace')
    for line in text.splitlines():
        if 'error' in line.lower() or 'ERROR' in line:
            return line.strip()
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else ''


def runme_error(*paths) -> str:
    pat = re.compile(r'(fatal: .*|ERROR!.*|\[ERROR\].*|(?:\S.*?: )?error: .*|FAILED!.*)')
    for p in paths:
        if p.exists():
            for line in p.read_text(errors='replace').splitlines():
                m = pat.search(line)
                if m:
                    return m.group(1).strip()
    for p in reversed(paths):
        if p.exists():
            lines = [l for l in p.read_text(errors='replace').splitlines() if l.strip()]
            if lines:
                return lines[-1].strip()
    return ''


def summarize(name):
    out = WORK / 'out'
    info = target_info(name)
    meta = json.loads((out / f'{name}.meta.json').read_text())
    s = {'target': name, 'mode': info[1], 'tool': TOOL, 'rc': meta.get('rc'),
         'seconds': meta.get('seconds'), 'finished': meta.get('rc') == 0}
    if info[1] == 'runme':
        calls = read_jsonl(out / f'{name}.calls.jsonl')
        s['calls'] = len(calls)
        s['call_rcs'] = [c.get('rc') for c in calls]
        evs = read_jsonl(out / f'{name}.jsonl')
        res = fold(evs)
    else:
        evs = read_jsonl(out / f'{name}.jsonl')
        res = fold(evs)
    asserts = [r for r in res if r['action'] == 'assert']
    s['asserts_total'] = len(asserts)
    s['asserts_passed'] = sum(1 for r in asserts if r['status'] == 'ok')
    s['results'] = len(res)
    fails = [r for r in res if r['status'] in ('failed', 'unreachable')]
    first = None
    if fails:
        f = fails[0] if s['finished'] else fails[-1]
        first = f"{f['task']} ({f['action']}): {f['msg']}"
    elif not s['finished']:
        if meta.get('timeout'):
            first = 'timed out'
        else:
            first = first_error_line(out / f'{name}.err') or f'rc {meta.get("rc")}'
    if info[1] == 'runme':
        calls = read_jsonl(out / f'{name}.calls.jsonl')
        s['call_msgs'] = [c.get('msg', '') for c in calls]
        s['call_args'] = [' '.join(c.get('args', [])) for c in calls]
        first = None
        if not s['finished']:
            bad = next((i for i, c in enumerate(calls) if c.get('rc') not in (0, None)), None)
            if bad is not None and TOOL == 'tprov':
                first = f"call {bad + 1} rc {calls[bad]['rc']}: {calls[bad].get('msg') or ''}"
            else:
                first = f"runme rc {s['rc']} after {len(calls)} calls: " + runme_error(out / f'{name}.err')
    s['first_failure'] = first
    s['first_failure_fatal'] = not s['finished']
    (out / f'{name}.summary.json').write_text(json.dumps(s, indent=1))
    return s


# --------------------------------------------------------------------------- report
def trunc(s, n=100):
    s = (s or '').replace('\n', ' ')
    return s if len(s) <= n else s[: n - 1] + '…'


def same_rc_prefix(mine, theirs):
    n = 0
    for x, y in zip(mine or [], theirs or []):
        if x != y:
            break
        n += 1
    return n


def report(names, update_floor=False):
    whole, _ = read_skips()
    out = WORK / 'out'
    rows = []
    for name, mode, _ in read_targets():
        if name not in names:
            continue
        if name in whole:
            rows.append({'target': name, 'mode': mode, 'skipped': whole[name]})
            continue
        p = out / f'{name}.summary.json'
        rows.append(json.loads(p.read_text()) if p.exists() else {'target': name, 'mode': mode, 'missing': True})
    base_p = HARNESS / 'ansible-baseline.json'
    base = json.loads(base_p.read_text()).get('targets', {}) if base_p.exists() else {}
    floor_p = HARNESS / 'floor.json'
    floor = json.loads(floor_p.read_text()).get('targets', {}) if floor_p.exists() else {}

    col = 'asserts ok/run' if TOOL == 'ansible' else 'tprov ok/run'
    hdr = f"{'target':22} {'mode':9} {col:>14} {'ansible':>7} {'fin':3} {'rc':>3}  first failure"
    print(hdr)
    print('-' * len(hdr))
    tot = {'ok': 0, 'run': 0, 'ans': 0, 'calls_same': 0, 'calls_ans': 0, 'calls': 0}
    regressions, unfloored = [], []
    for r in rows:
        t = r['target']
        if r.get('skipped'):
            print(f"{t:22} {r['mode']:9} {'-':>14} {'-':>7} {'-':3} {'-':>3}  skipped: {trunc(r['skipped'])}")
            continue
        if r.get('missing'):
            print(f"{t:22} {r['mode']:9} {'?':>14} {'':>7} {'?':3} {'?':>3}  not run")
            continue
        a = base.get(t, {})
        if r['mode'] == 'runme':
            tot['calls'] += r.get('calls', 0)
            if TOOL == 'tprov' and a.get('call_rcs') is not None:
                same = same_rc_prefix(r.get('call_rcs'), a['call_rcs'])
                r['calls_same_rc'] = same
                r['ansible_calls'] = len(a['call_rcs'])
                tot['calls_same'] += same
                tot['calls_ans'] += len(a['call_rcs'])
                if same < len(r.get('call_rcs', [])):
                    exp = a['call_rcs'][same] if same < len(a['call_rcs']) else 'no call'
                    msgs = r.get('call_msgs') or []
                    r['first_failure'] = (f"call {same + 1} rc {r['call_rcs'][same]} (ansible {exp}): "
                                          + (msgs[same] if same < len(msgs) else ''))
                cell = f"calls {same}/{len(a['call_rcs'])}"
                ans = ''
            else:
                cell = f"calls {r.get('calls')}"
                ans = a.get('asserts_passed', '') if TOOL == 'tprov' else ''
                if TOOL == 'ansible':
                    cell = f"{r['asserts_passed']}/{r['asserts_total']} c{r.get('calls')}"
        else:
            ans = a.get('asserts_passed')
            tot['ok'] += r['asserts_passed']
            tot['run'] += r['asserts_total']
            tot['ans'] += ans or 0
            if ans is not None:
                r['ansible_asserts_passed'] = ans
                r['asserts_not_passed'] = max(ans - r['asserts_passed'], 0)
            cell = f"{r['asserts_passed']}/{r['asserts_total']}"
            ans = '' if ans is None else ans
        print(f"{t:22} {r['mode']:9} {cell:>14} {ans:>7} {'yes' if r['finished'] else 'no':3} "
              f"{str(r['rc']):>3}  {trunc(r.get('first_failure') or '')}")
        if TOOL == 'tprov':
            fl = floor.get(t)
            if fl is None:
                unfloored.append(t)
            else:
                if r['asserts_passed'] < fl.get('asserts_passed', 0):
                    regressions.append(f"{t}: {r['asserts_passed']} asserts pass, floor {fl['asserts_passed']}")
                if 'calls_same_rc' in fl and r.get('calls_same_rc', 0) < fl['calls_same_rc']:
                    regressions.append(f"{t}: {r.get('calls_same_rc', 0)} runme calls with Ansible's rc, floor {fl['calls_same_rc']}")
    print('-' * len(hdr))
    fin = sum(1 for r in rows if r.get('finished'))
    ran = sum(1 for r in rows if 'rc' in r)
    line = f"{TOOL}: role-style targets: {tot['ok']} of {tot['run']} assert results passed"
    if TOOL == 'tprov' and base:
        pct = f" ({100.0 * tot['ok'] / tot['ans']:.1f}%)" if tot['ans'] else ''
        line += f"; ansible-playbook passes {tot['ans']}: tprov {tot['ok']}/{tot['ans']}{pct}"
    print(line)
    if TOOL == 'tprov' and tot['calls_ans']:
        print(f"tprov: runme targets: {tot['calls_same']} of ansible's {tot['calls_ans']} ansible-playbook calls "
              "returned the same rc (counted from each script's start)")
    print(f"{TOOL}: {fin} of {ran} targets finished (rc 0)")
    results = {'tool': TOOL, 'asserts_passed': tot['ok'], 'asserts_run': tot['run'],
               'ansible_asserts_passed': tot['ans'], 'runme_calls_same_rc': tot['calls_same'],
               'runme_calls_ansible': tot['calls_ans'], 'targets_finished': fin, 'targets_run': ran,
               'targets': rows}
    (WORK / 'results.json').write_text(json.dumps(results, indent=1))
    print(f"results: {WORK / 'results.json'}")

    rc = 0
    if update_floor:
        dest = floor_p if TOOL == 'tprov' else base_p
        old = json.loads(dest.read_text()).get('targets', {}) if dest.exists() else {}
        for r in rows:
            if r.get('skipped') or r.get('missing'):
                continue
            rec = {'asserts_passed': r['asserts_passed'], 'asserts_total': r['asserts_total'],
                   'finished': r['finished']}
            if r['mode'] == 'runme':
                if TOOL == 'tprov':
                    rec['calls_same_rc'] = r.get('calls_same_rc', 0)
                else:
                    rec['call_rcs'] = r.get('call_rcs')
            if TOOL == 'ansible':
                rec['results'] = r.get('results')
                rec['rc'] = r.get('rc')
                rec['first_failure'] = r.get('first_failure')
            old[r['target']] = rec
        what = ('asserts tprov passes per target (runme: ansible-playbook calls with the rc Ansible '
                'returns, from the start); run.sh fails when a target drops below. '
                'Rewrite with: run.sh --update-floor'
                if TOOL == 'tprov' else
                'ansible-playbook (ansible-core 2.19.14) per target, from: run.sh --tool ansible --update-floor')
        dest.write_text(json.dumps({'about': what, 'targets': dict(sorted(old.items()))}, indent=1) + '\n')
        print(f'wrote {dest}')
    elif TOOL == 'tprov':
        if unfloored:
            print('not in floor.json (reported, not failed): ' + ', '.join(unfloored))
        if regressions:
            print('REGRESSIONS against floor.json:')
            for x in regressions:
                print('  ' + x)
            rc = 1
        else:
            print('no target below its floor')
    return rc


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ''
    if cmd == 'list':
        whole, _ = read_skips()
        want = set(argv[2:])
        for name, mode, opts in read_targets():
            if want and name not in want:
                continue
            print(f"{name} {mode} {'skip' if name in whole else 'run'} {opts.get('ansible_args', '').replace(',', ' ')}")
        return 0
    if cmd == 'line':
        s = json.loads((WORK / 'out' / f'{argv[2]}.summary.json').read_text())
        extra = f"  calls {s['calls']}" if 'calls' in s else ''
        print(f"rc {s['rc']:>3}  asserts {s['asserts_passed']}/{s['asserts_total']}  {s['seconds']}s{extra}")
        return 0
    if cmd == 'labssh':
        # host port key known_hosts, for run.sh's own ssh into the lab host
        import shlex
        v = dict(kv.split('=', 1) for kv in shlex.split(lab_conn(Path(argv[2]))))
        args = v.get('ansible_ssh_common_args', '')
        kh = re.search(r'UserKnownHostsFile=(\S+)', args)
        print(v['ansible_host'], v.get('ansible_port', '22'), v.get('ansible_user', 'root'),
              v['ansible_ssh_private_key_file'], kh.group(1) if kh else '/dev/null')
        return 0
    if cmd == 'labconn':
        print(lab_conn(Path(argv[2])))
        return 0
    if cmd == 'drop-task':
        drop_task(Path(argv[2]), argv[3])
        return 0
    if cmd == 'prep':
        prep(argv[2])
        return 0
    if cmd == 'summarize':
        summarize(argv[2])
        return 0
    if cmd == 'report':
        upd = '--update-floor' in argv
        names = [a for a in argv[2:] if not a.startswith('--')]
        if not names:
            names = [t[0] for t in read_targets()]
        return report(set(names), upd)
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
