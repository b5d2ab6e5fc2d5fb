#!/bin/busybox sh
# /sbin/init of the sample image (dev/sampleImage.ts, `userland`): reports on the console that the node runs
# from the image (os-release, the files listed in /etc/sample-init/report, the root mount, the device-mapper
# devices below it, the iSCSI and multipath daemons the initramfs left running), reads the payload `sample.read_passes=` times (default 1) through the page cache's
# back (drop_caches), checking its md5 each time and showing each disk's state, then powers off.
export PATH=/bin
grep -q '^proc /proc ' /proc/mounts 2>/dev/null || mount -t proc proc /proc
grep -q '^sysfs /sys ' /proc/mounts || mount -t sysfs sysfs /sys
[ -c /dev/console ] || mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
say() { echo "sample-init: $*"; }

say "running from the image as PID $$"
while read -r line; do say "os-release: $line"; done </etc/os-release
while read -r file; do say "$file: $(cat "$file")"; done </etc/sample-init/report
say "root: $(awk '$5 == "/" {print $(NF-2), $(NF-1), $NF}' /proc/self/mountinfo)"
for dm in /sys/block/dm-*; do
  [ -e "$dm/dm/name" ] && say "device-mapper $(cat "$dm/dm/name") ($(cat "$dm/dm/uuid")) on $(ls "$dm/slaves" | tr '\n' ' ')"
done
say "storage daemons still running: $(ps -o comm | grep -xE 'iscsid|multipathd' | sort -u | tr '\n' ' ')"
passes=1
for arg in $(cat /proc/cmdline); do
  case $arg in sample.read_passes=*) passes=${arg#*=} ;; esac
done
# The SCSI state of each disk (running, transport-offline, ...): multipath failover and a path's return show here.
path_states() {
  for state in /sys/block/sd*/device/state; do
    [ -e "$state" ] && disk=${state#/sys/block/} && printf ' %s=%s' "${disk%%/*}" "$(cat "$state")"
  done
}
expected=$(cat /usr/lib/sample/payload.md5)
pass=1
while [ "$pass" -le "$passes" ]; do
  echo 3 >/proc/sys/vm/drop_caches
  started=$(cut -d' ' -f1 /proc/uptime)
  sum=$(md5sum /usr/lib/sample/payload.bin | cut -d' ' -f1)
  [ "$sum" = "$expected" ] && verdict=ok || verdict="BAD ($sum)"
  say "read pass $pass: $verdict (started at $started s, done at $(cut -d' ' -f1 /proc/uptime) s) paths:$(path_states)"
  pass=$((pass + 1))
  sleep 1
done
say "powering off"
sync
poweroff -f
