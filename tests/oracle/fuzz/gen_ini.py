# A random INI inventory in Ansible's dialect (tricky values, ranges, sections), for run.sh.
import random, sys, os
r = random.Random(int(sys.argv[1]))
vals = ['yes','True','false','0644','010','1e3','0x1f','1_000','"a b"',"'q'",'[1,2]','{"a":1}','None','null','-0','+5','1.5e-3','.5','5.','inf','nan','"\\t"','a#b','(1,)','{1,2}','""',"''",'~','1:30','2001-01-01','b"x"','u"x"','"{{ a }}"','{{ b }}','a=b','[]','{}','0o17','0b11','1j','[1,','01.5','-0x10','1__0', '\\"', 'é', '%', 'a\\tb']
names = ['h1','h2','web[1:3]','db-[a:c]','h[01:03]','x.example.com','10.0.0.1','h1:2222','[::1]:22','h[1:6:2]','UPPER','h_1','h-2']
groups = ['g1','g2','all','ungrouped','web','G3','g_4']
out = []
for _ in range(r.randint(1,6)):
    kind = r.choice(['hosts','vars','children','top'])
    g = r.choice(groups)
    if kind=='top':
        for _ in range(r.randint(1,3)):
            out.append(r.choice(names)+''.join(f' v{r.randint(0,4)}={r.choice(vals)}' for _ in range(r.randint(0,3))))
    elif kind=='hosts':
        out.append(f'[{g}]')
        for _ in range(r.randint(0,3)):
            out.append(r.choice(names)+''.join(f' v{r.randint(0,4)}={r.choice(vals)}' for _ in range(r.randint(0,3))))
    elif kind=='vars':
        out.append(f'[{g}:vars]')
        for _ in range(r.randint(0,3)):
            sp = r.choice(['=',' = ',' =','= '])
            out.append(f'v{r.randint(0,4)}{sp}{r.choice(vals)}')
    else:
        out.append(f'[{g}:children]')
        for _ in range(r.randint(0,2)):
            out.append(r.choice([x for x in groups if x!=g]+['newg']))
    if r.random()<0.2: out.append(r.choice(['# c','; c','','   ']))
print('\n'.join(out))
