# Runs inside the new root (chroot) at the end of image/build.sh: users, units, what is masked.
# Fixed ids: the data partition keeps its owners across updates of the root.
groupadd --system --gid 901 okenko-ui
groupadd --system --gid 902 kiosk
useradd --system --uid 901 --gid okenko-ui --groups kiosk,input --no-create-home \
  --home-dir /data/okenko --shell /usr/sbin/nologin okenko-agent
useradd --system --uid 902 --user-group --groups okenko-ui,video,input --no-create-home \
  --home-dir /nonexistent --shell /usr/sbin/nologin okenko-app

systemctl enable okenko-agent.service okenko-app.service okenko-machine-id.service \
  okenko-debug-journal.service okenko-provision-import.service okenko-lab-meminfo.service okenko-lab-blame.service \
  okenko-boot-health.service okenko-reboot.path \
  systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
systemctl set-default graphical.target
# No login anywhere: not on the screen, not on the technician's port (the agent owns ttyS0).
systemctl mask getty@tty1.service serial-getty@ttyS0.service getty.target \
  e2scrub_reap.service e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer \
  systemd-firstboot.service systemd-journal-catalog-update.service systemd-update-done.service \
  ldconfig.service systemd-logind.service
# One place marks a boot good: systemd-bless-boot, gated by okenko-boot-health.service, not
# RAUC's own mark-good unit as well (RAUC itself is started by D-Bus when the agent calls it).
systemctl mask rauc-mark-good.service
# The loader on the ESP belongs to the image and its slots: bootctl does not update it.
systemctl mask systemd-boot-update.service
# Nothing to fsck at boot: the root is read-only, the data partition has a journal.
echo "okenko" > /etc/hostname
