# tags: runme.sh exports LC_ALL=en_US.UTF-8, a locale this machine lacks (Ansible refuses
# to start without a UTF-8 locale it can set); C.UTF-8 is used instead.
sed -i 's/^export LC_ALL=en_US.UTF-8$/export LC_ALL=C.UTF-8/' runme.sh
grep -q '^export LC_ALL=C.UTF-8$' runme.sh
