# group: drop "Ensure lgroupadd is present", which installs libuser with the host's
# package manager (`action: "{{ ansible_facts.pkg_mgr }}"`, apt on the lab host). The
# `local: true` blocks that need it run only on CentOS, so nothing else depends on it.
python3 "$HARNESS_DIR/lib/harness.py" drop-task tasks/tests.yml 'Ensure lgroupadd is present'
