#!/usr/bin/env python3
"""The Ansible oracle for tprov's conformance tests.

Reads a JSON request on stdin: {"inventory": PATH, "limits": [PATTERN, ...],
"templates": {HOST: [TEMPLATE, ...]}} and answers, using ansible-core's own classes,
with {"limits": {PATTERN: [HOST, ...] | {"error": MSG}}, "templates": {HOST: {TEMPLATE:
{"value": V, "type": T} | {"error": MSG}}}}. One process answers many questions, which
is much faster than one `ansible` run per pattern.
"""
import datetime
import json
import sys
import warnings

warnings.filterwarnings("ignore")

from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
from ansible.template import Templar, trust_as_template
from ansible.utils.display import Display

Display().verbosity = 0


def plain(v):
    """Turns tagged/lazy Ansible values into plain JSON-able ones."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()  # as Ansible's JSON encoder writes it
    return str(v)


def main():
    req = json.load(sys.stdin)
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[req["inventory"]])
    vm = VariableManager(loader=loader, inventory=inv)
    out = {"limits": {}, "templates": {}}
    for pattern in req.get("limits", []):
        try:
            inv.subset(pattern)
            out["limits"][pattern] = [h.name for h in inv.get_hosts("all")]
        except Exception as e:  # noqa: BLE001 - the oracle reports every failure
            out["limits"][pattern] = {"error": str(e)}
        finally:
            inv.subset(None)
            inv.clear_pattern_cache()
    for host, templates in req.get("templates", {}).items():
        h = inv.get_host(host)
        variables = vm.get_vars(host=h, include_hostvars=True)
        templar = Templar(loader=loader, variables=variables)
        answers = {}
        for t in templates:
            try:
                v = templar.template(trust_as_template(t))
                answers[t] = {"value": plain(v), "type": type(v).__name__}
            except Exception as e:  # noqa: BLE001
                answers[t] = {"error": str(e).splitlines()[0] if str(e) else type(e).__name__}
        out["templates"][host] = answers
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
