# A random YAML inventory (YAML 1.1 scalars, nested children, host vars), for run.sh.
import random, sys
r = random.Random(int(sys.argv[1]))
scal = ['yes','no','on','off','True','~','null','0644','0o644','1_000','1:30','1e3','1.0e+3','.inf','-.inf','.nan','0x1F','0b101','+12','-0','2001-12-14','2001-12-14t21:59:43.10-05:00','2001-12-14 21:59:43.10','"str"',"'q''s'",'|\n      block\n      text','>-\n      folded\n      text','[a, 1, yes]','{k: v, n: 2}','!!str 12','!!int "7"','!!float 1','&a1 anch','*a1','{{ x }}','"{{ y | default(1) }}"','Y','n','NO','y','=','~/x','0.','.5','1,000','12:30:45','-1:30','0777','08','09','1__2','0_7','!!binary aGVsbG8=','!!set {a, b}','!!omap [a: 1]','2001-1-1','true#c']
hn = ['h1','h2','web1','db[1:2]','h3:2022','x.example.com','10.0.0.1']
gn = ['g1','g2','web','all','ungrouped','g-3']
def vars_block(ind):
    out=[]
    for _ in range(r.randint(1,3)):
        v = r.choice(scal)
        if v.startswith('&a1') and any('&a1' in l for l in lines): v='x'
        out.append(' '*ind + f'v{r.randint(0,4)}: {v}')
    return out
lines=[]
def group(name, ind, depth):
    lines.append(' '*ind + f'{name}:')
    if r.random()<0.15:
        return
    if r.random()<0.6:
        lines.append(' '*(ind+2)+'hosts:')
        for h in r.sample(hn, r.randint(1,3)):
            if r.random()<0.4:
                lines.append(' '*(ind+4)+f'{h}:')
            else:
                lines.append(' '*(ind+4)+f'{h}:')
                lines.extend(vars_block(ind+6))
    if r.random()<0.5:
        lines.append(' '*(ind+2)+'vars:')
        lines.extend(vars_block(ind+4))
    if depth<2 and r.random()<0.5:
        lines.append(' '*(ind+2)+'children:')
        for g in r.sample([g for g in gn if g!=name and g!='all'], r.randint(1,2)):
            group(g, ind+4, depth+1)
for g in r.sample(gn, r.randint(1,3)):
    group(g, 0, 0)
print('\n'.join(lines))
