#!/bin/bash
# PID 1 of a VM-tier guest, after the initramfs switch_root: the host's root read-only under a tmpfs
# overlay, the guest's persistent state directory at /vm-state. Brings up what both roles need (udev,
# D-Bus, networking), the role's own services, then sshd last, so a guest that answers SSH is ready.
# Powers off cleanly on SIGTERM (`kill -TERM 1`, the harness's stop).
# Failures print one line "vm-init: FAILED: ..." on the console; the harness fails a boot that printed one.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
state=/vm-state

say() { echo "vm-init: $*" >/dev/console; }
fail() { say "FAILED: $*"; }
cmdline_value() {
  local arg
  for arg in $(</proc/cmdline); do
    [[ $arg == "vm.$1="* ]] && echo "${arg#*=}"
  done
}

mount_filesystems() {
  mount -t proc proc /proc
  mount -t sysfs sys /sys
  mountpoint -q /dev || mount -t devtmpfs dev /dev
  mkdir -p /dev/pts /dev/shm
  mount -t devpts -o gid=5,mode=620 devpts /dev/pts
  mount -t tmpfs -o mode=1777 shm /dev/shm
  mount -t tmpfs -o mode=0755 run /run
  mount -t tmpfs -o mode=1777 tmp /tmp
  # The guest's own root home: the host's dotfiles (a .bashrc running pyenv init) cost seconds per SSH command.
  mount -t tmpfs -o mode=0700 roothome /root
  mkdir -p /run/lock /run/dbus /run/sshd
}

identity() {
  local hostname initiator
  hostname=$(cmdline_value hostname)
  initiator=$(cmdline_value initiator)
  hostname "$hostname"
  echo "$hostname" >/etc/hostname
  printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$hostname" >/etc/hosts
  mkdir -p /etc/iscsi
  echo "InitiatorName=$initiator" >/etc/iscsi/initiatorname.iscsi
}

# QEMU user networking: the guest is 10.0.2.15, the gateway (and guestfwd addresses) behind 10.0.2.2.
network() {
  ip link set lo up
  ip addr add 10.0.2.15/24 dev eth0 || return 1
  ip link set eth0 up
  ip route add default via 10.0.2.2
}

base_services() {
  echo /sbin/modprobe >/proc/sys/kernel/modprobe
  # systemd-udevd sees the overlay root as a chroot and refuses to start without this.
  SYSTEMD_IGNORE_CHROOT=1 /lib/systemd/systemd-udevd --daemon || return 1
  # Coldplug only what the roles use: a full trigger autoloads drivers for every emulated device (slow).
  udevadm trigger --action=add --subsystem-match=block --subsystem-match=net --subsystem-match=scsi
  udevadm settle --timeout=60
  # targetcli needs a system bus ("g-io-error-quark: Could not connect" without one).
  dbus-daemon --system --fork
}

# LIO: its saved configuration and the backing files it exports live on the state directory, so a
# reboot restores every export (Debian's rtslib-fb-targetctl.service does the restore at boot).
lio_role() {
  modprobe -a configfs scsi_common crc-t10dif target_core_mod target_core_file iscsi_target_mod || return 1
  mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config || return 1
  mkdir -p "$state/rtslib-fb-target" "$state/staging" /etc/rtslib-fb-target
  mount --bind "$state/rtslib-fb-target" /etc/rtslib-fb-target || return 1
  if [[ -f /etc/rtslib-fb-target/saveconfig.json ]]; then
    targetctl restore /etc/rtslib-fb-target/saveconfig.json >/dev/console 2>&1 || { fail "targetctl restore /etc/rtslib-fb-target/saveconfig.json"; return 0; }
    say "LIO configuration restored from /etc/rtslib-fb-target/saveconfig.json"
  fi
}

# A compute node: open-iscsi, multipath (0.9.4 finds no paths without udev, started above), dm-crypt.
node_role() {
  modprobe -a dm_mod dm_crypt dm_multipath dm_round_robin dm_service_time iscsi_tcp squashfs overlay || return 1
  # Every iSCSI disk of a test is a multipath candidate (Debian's default, strict, takes only known WWIDs).
  [[ -e /etc/multipath.conf ]] || printf 'defaults {\n\tfind_multipaths greedy\n\tuser_friendly_names no\n}\n' >/etc/multipath.conf
  iscsid || return 1
  multipathd || return 1
}

sshd_service() {
  install -m 0600 "$state/ssh/host_ed25519_key" /etc/ssh/vm_host_ed25519_key || return 1
  install -m 0600 "$state/ssh/authorized_keys" /etc/ssh/vm_authorized_keys || return 1
  /usr/sbin/sshd -o HostKey=/etc/ssh/vm_host_ed25519_key -o AuthorizedKeysFile=/etc/ssh/vm_authorized_keys \
    -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o UsePAM=no
}

power_off() {
  say "powering off"
  [[ $role == lio ]] && targetctl clear
  [[ $role == node ]] && { multipath -F; iscsiadm -m node --logoutall=all; } >/dev/null 2>&1
  sync
  umount /etc/rtslib-fb-target "$state" 2>/dev/null
  busybox poweroff -f
}

mount_filesystems
role=$(cmdline_value role)
identity
network || fail "network on eth0 (10.0.2.15/24 via 10.0.2.2)"
base_services || fail "udev or D-Bus"
case $role in
  lio) lio_role || fail "LIO target (configfs, target_core_mod, iscsi_target_mod)" ;;
  node) node_role || fail "compute node services (dm_crypt, dm_multipath, iscsi_tcp, iscsid, multipathd)" ;;
  *) fail "unknown vm.role=$role" ;;
esac
sshd_service || fail "sshd"
say "ready: role $role, $(cut -d' ' -f1 /proc/uptime) s after kernel start"

trap power_off TERM
while :; do
  sleep 3600 &
  wait $!
done
