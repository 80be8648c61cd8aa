#!/usr/bin/env python3
"""Lists the tasks that fail under tprov but not under ansible-playbook, per target.

  diverge.py TPROV_WORK ANSIBLE_WORK [TARGET...]

Reads WORK/out/T.jsonl of two runs of run.sh (best: tprov with --keep-going, so a
target goes on past its failures, and ansible-playbook without it). Tasks are matched by
name (the n-th occurrence of a name with the n-th); a tprov result that failed (or was
ignored) where Ansible's was ok, changed or skipped is a divergence. Load-time refusals
(nothing ran) are shown from T.err. Output: one line per divergence,
`target | task | action | tprov's message`, then a count per distinct message.
"""
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402


def results(work: Path, t: str):
    return harness.fold(harness.read_jsonl(work / 'out' / f'{t}.jsonl'))


def main(argv):
    tw, aw = Path(argv[1]), Path(argv[2])
    names = argv[3:] or sorted(p.name[:-len('.summary.json')] for p in (tw / 'out').glob('*.summary.json'))
    per_msg = collections.Counter()
    modes = {n: m for n, m, _ in harness.read_targets()}
    for t in names:
        if modes.get(t) == 'runme':
            continue  # runme targets: see the call table of run.sh instead
        tp, an = results(tw, t), results(aw, t)
        if not tp:
            err = tw / 'out' / f'{t}.err'
            lines = [l for l in err.read_text(errors='replace').splitlines() if 'error:' in l] if err.exists() else []
            for l in lines:
                print(f'{t} | (load) | | {l}')
                per_msg[re.sub(r'^\S+:\d+:\d+: ', '', l)] += 1
            continue
        seen = collections.Counter()
        by_name = collections.defaultdict(list)
        for r in an:
            by_name[r['task']].append(r)
        for r in tp:
            k = r['task']
            i = seen[k]
            seen[k] += 1
            if r['status'] not in ('failed', 'ignored', 'unreachable'):
                continue
            theirs = by_name.get(k, [])
            a = theirs[i] if i < len(theirs) else (theirs[-1] if theirs else None)
            if a is not None and a['status'] in ('failed', 'ignored', 'unreachable'):
                continue  # an expected failure: Ansible fails it too
            astat = a['status'] if a else 'not run'
            msg = (r['msg'] or '').replace('\n', ' ')
            print(f"{t} | {k} | {r['action']} | {msg[:300]} (ansible: {astat})")
            per_msg[re.sub(r'\d+', 'N', msg[:120])] += 1
    print('\n# distinct messages, most frequent first')
    for m, n in per_msg.most_common():
        print(f'{n:4}  {m}')


if __name__ == '__main__':
    main(sys.argv)
