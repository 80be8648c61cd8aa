# wait_for: drop "install psutil using pip (non-Linux)": a PyPI install for non-Linux
# hosts only (skipped on the Debian lab host by Ansible).
python3 "$HARNESS_DIR/lib/harness.py" drop-task tasks/main.yml 'install psutil using pip (non-Linux)'
