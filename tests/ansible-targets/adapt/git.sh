# git: two changes to tasks/setup.yml.
# 1. The SETUP task that installs git, gzip, tar, unzip and zip with `package` (and
#    notifies a handler that removes git again) is dropped: they are on the lab host,
#    and package installs are out of scope.
# 2. "SETUP | set git global init.templateDir" lists three candidate template dirs and
#    expects exactly one to exist; the lab host (this machine's root) has both
#    /usr/local/share/git-core/templates (its /usr/local git) and Debian's
#    /usr/share/git-core/templates, so the /usr/local candidate is removed.
python3 "$HARNESS_DIR/lib/harness.py" drop-task tasks/setup.yml 'SETUP | install git'
sed -i "\#^ *'/usr/local/share/git-core/templates' \\\\\$#d" tasks/setup.yml
! grep -q "'/usr/local/share/git-core/templates'" tasks/setup.yml
