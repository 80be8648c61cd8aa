# cron: stands in for its setup_cron dependency (deleted with meta/main.yml), which
# installs the cron package (lab/install.sh does, once) and restarts the service: here
# the lab host gets its own cron daemon, and the vars setup_cron gives (no libfaketime,
# so the target waits up to 70 s for cron to run its canary job, as without it).
python3 - tasks/main.yml <<'PY'
import sys
p = sys.argv[1]
text = open(p).read()
setup = """- name: harness | the vars setup_cron sets
  set_fact:
    remote_dir: "{{ remote_tmp_dir }}"
    faketime_pkg: ""
    cron_service: cron
- name: harness | start the host's cron daemon (setup_cron restarts the service)
  shell: pgrep -x cron >/dev/null || /usr/sbin/cron

"""
open(p, 'w').write(setup + text)
PY
