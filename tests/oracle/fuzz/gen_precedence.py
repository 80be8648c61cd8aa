# A random group tree with INI vars, group_vars/host_vars files and priorities, for run.sh.
import random, sys, os
r = random.Random(int(sys.argv[1])); d = sys.argv[2]
os.makedirs(d + '/group_vars', exist_ok=True); os.makedirs(d + '/host_vars', exist_ok=True)
groups = ['g%d' % i for i in range(r.randint(2, 6))]
hosts = ['h%d' % i for i in range(r.randint(1, 4))]
lines = []
# children edges: only from lower index to higher index (no cycles)
for i, g in enumerate(groups):
    lines.append('[%s]' % g)
    for h in r.sample(hosts, r.randint(0, len(hosts))):
        extra = ' v=host_%s_%s' % (h, g) if r.random() < 0.2 else ''
        lines.append(h + extra)
    kids = [k for k in groups[i+1:] if r.random() < 0.35]
    if kids:
        lines.append('[%s:children]' % g); lines += kids
    if r.random() < 0.5:
        lines.append('[%s:vars]' % g); lines.append('v=ini_%s' % g)
        if r.random() < 0.3: lines.append('ansible_group_priority=%d' % r.randint(1, 5))
        if r.random() < 0.3: lines.append('w=ini_%s' % g)
    if r.random() < 0.5:
        with open('%s/group_vars/%s.yml' % (d, g), 'w') as f:
            f.write('v: file_%s\n' % g)
            if r.random() < 0.3: f.write('ansible_group_priority: %d\n' % r.randint(1, 5))
            if r.random() < 0.5: f.write('m: {%s: 1, shared: %s}\n' % (g, g))
            if r.random() < 0.3: f.write('w: "{{ v }}-%s"\n' % g)
if r.random() < 0.5:
    lines.append('[all:vars]'); lines.append('v=ini_all')
if r.random() < 0.5:
    with open(d + '/group_vars/all.yml', 'w') as f: f.write('v: file_all\nm: {all: 1}\n')
for h in hosts:
    if r.random() < 0.3:
        with open('%s/host_vars/%s.yml' % (d, h), 'w') as f: f.write('v: hostfile_%s\n' % h)
open(d + '/hosts', 'w').write('\n'.join(lines) + '\n')
