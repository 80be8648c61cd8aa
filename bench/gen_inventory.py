#!/usr/bin/env python3
"""Generates a large inventory for the inventory benchmark: N hosts, G groups (nested
under a few parents), one group_vars file per group with templated and nested vars."""
import os
import sys

out, hosts, groups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.join(out, "group_vars"), exist_ok=True)
with open(os.path.join(out, "hosts"), "w") as f:
    for g in range(groups):
        f.write(f"[g{g:03d}]\n")
        for h in range(g, hosts, groups):
            f.write(f"host{h:05d}.example.com ansible_host=10.{h // 65536}.{h // 256 % 256}.{h % 256} idx={h}\n")
        f.write("\n")
    for p in range(10):
        f.write(f"[parent{p}:children]\n")
        for g in range(p, groups, 10):
            f.write(f"g{g:03d}\n")
        f.write(f"\n[parent{p}:vars]\nparent_var={p}\n\n")
with open(os.path.join(out, "group_vars", "all.yml"), "w") as f:
    f.write("base: /srv\nport: 8080\nurl: \"http://{{ inventory_hostname }}:{{ port }}\"\n")
for g in range(groups):
    with open(os.path.join(out, "group_vars", f"g{g:03d}.yml"), "w") as f:
        f.write(f"group_index: {g}\nmode: 0644\nenabled: yes\napp_dir: \"{{{{ base }}}}/g{g}\"\n")
        f.write(f"service:\n  name: svc{g}\n  port: \"{{{{ port + {g} }}}}\"\n  tags: [a, b, c]\n")
