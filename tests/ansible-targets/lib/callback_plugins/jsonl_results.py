# Logs one JSON line per task start and per task result (loop items folded into the
# task's own result, as Ansible reports it), in the shape of `tprov apply --format json`,
# so lib/summarize.py reads both tools alike. Output file: $JSONL_RESULTS_FILE.
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: jsonl_results
    type: aggregate
    short_description: one JSON line per task result (tprov harness)
    description: Writes task and result events to $JSONL_RESULTS_FILE.
'''


def _short(v, n=400):
    try:
        s = v if isinstance(v, str) else json.dumps(v, default=str)
    except Exception:
        s = str(v)
    return s[:n]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'jsonl_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        path = os.environ.get('JSONL_RESULTS_FILE', 'results.jsonl')
        self._f = open(path, 'a', buffering=1)

    def _emit(self, ev):
        self._f.write(json.dumps(ev, default=str) + '\n')

    def v2_playbook_on_play_start(self, play):
        self._emit({'event': 'play', 'name': play.get_name()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit({'event': 'task', 'name': task.get_name()})

    def v2_playbook_on_handler_task_start(self, task):
        self._emit({'event': 'handler', 'name': task.get_name()})

    def _result(self, result, status):
        r = result._result
        ev = {'event': 'result', 'action': result._task.action,
              'host': result._host.get_name(), 'status': status}
        msg = r.get('msg') or r.get('stderr') or r.get('exception') or ''
        if not msg and isinstance(r.get('results'), list):
            for it in r['results']:
                if isinstance(it, dict) and it.get('failed'):
                    msg = it.get('msg') or it.get('stderr') or ''
                    break
        if r.get('assertion') and isinstance(msg, str):
            msg = f"{msg}: {r['assertion']}"
        ev['msg'] = _short(msg)
        self._emit(ev)

    def v2_runner_on_ok(self, result):
        self._result(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        ign = bool(getattr(result._task, 'ignore_unreachable', False))
        self._result(result, 'unreachable_ignored' if ign else 'unreachable')

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts[h] = {k: s.get(src, 0) for k, src in (('ok', 'ok'), ('changed', 'changed'), ('unreachable', 'unreachable'), ('failed', 'failures'), ('skipped', 'skipped'), ('rescued', 'rescued'), ('ignored', 'ignored'))}
        self._emit({'event': 'recap', 'hosts': hosts})
