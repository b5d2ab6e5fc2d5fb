# bootimg-lib.sh: the compute node's boot path (node/README.md), shared by the project's own /init
# (bootimg-root) and its initramfs-tools boot script (initramfs-tools/scripts/bootimg). bootimg_boot <dir>
# reads our parameters from the kernel command line, brings the network up, starts dropbear for the
# orchestrator's attach phase, logs in to every portal with the node's CHAP credentials, waits for one
# multipath map for the LUN's WWID, opens LUKS read-only with the key pushed into /dev/shm (removed at
# once), and mounts the squashfs under a RAM overlay at <dir>. iscsid and multipathd keep running (path
# failover needs them); the caller stops dropbear and switches root.
# Every failure prints one line "bootimg: FAILED: <what>" and drops to a shell (DisklessTrap's way); every
# wait has a deadline and says what it waits for.

say() { echo "bootimg: [$(cut -d' ' -f1 /proc/uptime)] $*"; }
fail() {
  echo "bootimg: FAILED: $*"
  echo "bootimg: dropping to a shell; exit it to power off"
  setsid cttyhack sh
  poweroff -f
}
warn() { echo "bootimg: WARNING: $*"; }

# wait_until <seconds> <what> <command...>: polls every second; past the deadline it fails naming what it waited for.
wait_until() {
  local seconds=$1 what=$2 started
  shift 2
  started=$(date +%s)
  until "$@"; do
    [ $(($(date +%s) - started)) -lt "$seconds" ] || fail "$what: not within $seconds s"
    sleep 1
  done
}

bootimg_boot() {
  newroot=$1
  # No globbing of command-line values (unquoted on purpose, to split them at spaces and commas).
  set -f
  mkdir -p /dev/shm /run/lock /tmp /etc/multipath /etc/iscsi
  grep -q ' /dev/shm ' /proc/mounts || mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
  for arg in $(cat /proc/cmdline); do
    case $arg in
      bootimg.iscsi.targets=*) targets=${arg#*=} ;;
      bootimg.iscsi.initiator=*) initiator=${arg#*=} ;;
      bootimg.iscsi.chap=*) chap_ref=${arg#*=} ;;
      bootimg.lun.wwid=*) wwid=${arg#*=} ;;
      bootimg.luks.key=*) key_ref=${arg#*=} ;;
      bootimg.net=*) net=${arg#*=} ;;
      bootimg.init=*) image_init=${arg#*=} ;;
      bootimg.wait=*) secret_wait=${arg#*=} ;;
    esac
  done
  net=${net:-eth0:dhcp}
  image_init=${image_init:-/sbin/init}
  secret_wait=${secret_wait:-900}
  say "starting (kernel $(uname -r))"
  [ -n "$targets" ] || fail "no bootimg.iscsi.targets= on the kernel command line"
  [ -n "$initiator" ] || fail "no bootimg.iscsi.initiator= on the kernel command line"
  [ -n "$wwid" ] || fail "no bootimg.lun.wwid= on the kernel command line"
  [ -n "$key_ref" ] || fail "no bootimg.luks.key= on the kernel command line"
  # References name files under /dev/shm: no component may start with a dot (no "..").
  for ref in "$key_ref" "$chap_ref"; do
    case /$ref in */.*) fail "reference $ref: a component starts with a dot" ;; esac
  done

  # The kernel loads the crypto modules dm-crypt and iscsi_tcp ask for through /sbin/modprobe (a depmod'ed tree).
  modprobe -a $(cat /etc/bootimg/modules) || fail "kernel modules: modprobe -a $(cat /etc/bootimg/modules)"
  say "modules loaded"

  echo "InitiatorName=$initiator" >/etc/iscsi/initiatorname.iscsi
  # Only this LUN is ever multipathed: every other WWID is blacklisted.
  sed "s/@WWID@/$wwid/" /etc/bootimg/multipath.conf >/etc/multipath.conf
  # multipath-tools finds no paths without udev; initramfs-tools has started it already. systemd-udevd
  # refuses what it takes for a chroot without SYSTEMD_IGNORE_CHROOT.
  pidof systemd-udevd >/dev/null || SYSTEMD_IGNORE_CHROOT=1 /lib/systemd/systemd-udevd --daemon || fail "systemd-udevd"
  udevadm trigger --action=add --subsystem-match=block --subsystem-match=net --subsystem-match=scsi
  multipathd || fail "multipathd"

  iface=${net%%:*}
  wait_until 30 "network interface $iface" test -e "/sys/class/net/$iface"
  ip link set lo up
  ip link set "$iface" up || fail "network: ip link set $iface up"
  case ${net#*:} in
    dhcp) udhcpc -i "$iface" -n -q -t 10 -T 3 -s /etc/bootimg/udhcpc.script >/dev/null || fail "network: no DHCP lease on $iface" ;;
    */*:*)
      address=${net#*:}
      ip addr add "${address%:*}" dev "$iface" || fail "network: ip addr add ${address%:*} dev $iface"
      ip route add default via "${address##*:}" || fail "network: default route via ${address##*:}" ;;
    *) fail "bootimg.net=$net is not <interface>:dhcp or <interface>:<address>/<prefix>:<gateway>" ;;
  esac
  say "network up: $(ip -4 -o addr show dev "$iface" | awk '{print $4}') on $iface"

  # The orchestrator's attach phase logs in here and pushes the secrets into /dev/shm. -R: host key made at first use.
  mkdir -p /etc/dropbear
  dropbear -R -s -p 22 -P /run/dropbear.pid || fail "sshd (dropbear)"
  say "sshd listening on port 22 for the orchestrator"

  iscsi_settings=/etc/bootimg/iscsid.conf
  if [ -n "$chap_ref" ]; then
    chap_file=/dev/shm/$chap_ref
    say "waiting for the CHAP credentials $chap_ref at $chap_file (pushed over SSH; up to $secret_wait s)"
    wait_until "$secret_wait" "CHAP credentials at $chap_file" test -f "$chap_file"
    while IFS='=' read -r name value; do
      case $name in
        username) chap_user=$value ;;
        password) chap_password=$value ;;
        username_in) chap_user_in=$value ;;
        password_in) chap_password_in=$value ;;
      esac
    done <"$chap_file"
    rm -f "$chap_file"
    [ -n "$chap_user" ] && [ -n "$chap_password" ] || fail "CHAP credentials $chap_ref: not username=<user> and password=<secret> lines"
    [ -z "$chap_user_in" ] || [ -n "$chap_password_in" ] || fail "CHAP credentials $chap_ref: username_in= without password_in="
    # New node records take their settings from iscsid.conf: the secret never reaches a command line.
    (
      umask 077
      cat "$iscsi_settings"
      echo "node.session.auth.authmethod = CHAP"
      echo "node.session.auth.username = $chap_user"
      echo "node.session.auth.password = $chap_password"
      if [ -n "$chap_user_in" ]; then
        echo "node.session.auth.username_in = $chap_user_in"
        echo "node.session.auth.password_in = $chap_password_in"
      fi
    ) >/etc/iscsi/iscsid.conf
    unset chap_password chap_password_in
    say "CHAP credentials for $chap_user received${chap_user_in:+ (mutual: the target proves itself as $chap_user_in)}, file removed"
  else
    cp "$iscsi_settings" /etc/iscsi/iscsid.conf
  fi
  iscsid || fail "iscsid"

  # A record per given portal, no discovery: discovery through NAT or a proxy answers addresses the node cannot reach.
  sessions=0
  for target in $(echo "$targets" | tr ',' ' '); do
    iqn=${target%@*}
    portal=${target##*@}
    iscsiadm -m node -T "$iqn" -p "$portal" -o new >/dev/null || fail "iscsiadm: node record for $iqn at $portal"
    if output=$(iscsiadm -m node -T "$iqn" -p "$portal" --login 2>&1); then
      sessions=$((sessions + 1))
      say "logged in to $iqn at $portal"
    else
      warn "login to $iqn at $portal failed: $(echo "$output" | grep -v '^Logging in' | tail -n 2 | tr '\n' ' ')"
    fi
  done
  [ "$sessions" -gt 0 ] || fail "iSCSI login: no portal of $targets accepted this node ($initiator)"

  map=/dev/mapper/$wwid
  active_paths() { multipath -ll "$wwid" 2>/dev/null | grep -c 'active ready running'; }
  other_disks() {
    local disk found=
    set +f
    for disk in /sys/block/sd*; do
      [ -e "$disk" ] && found="$found ${disk##*/}=$(/lib/udev/scsi_id -g -u -d "/dev/${disk##*/}")"
    done
    set -f
    echo "${found# }"
  }
  started=$(date +%s)
  until [ -b "$map" ] && [ "$(active_paths)" -ge "$sessions" ]; do
    if [ $(($(date +%s) - started)) -ge 60 ]; then
      [ -b "$map" ] || fail "no multipath map for WWID $wwid within 60 s (the iSCSI disks are: $(other_disks))"
      warn "multipath map $wwid has $(active_paths) active paths of $sessions sessions after 60 s; booting with those"
      break
    fi
    udevadm settle --timeout=5
    sleep 1
  done
  [ "$(dmsetup info -c --noheadings -o uuid "$wwid")" = "mpath-$wwid" ] || fail "$map is not a multipath map"
  say "multipath map $wwid: $(active_paths) active paths"
  multipath -ll "$wwid"

  cryptsetup isLuks "$map" || fail "$map (WWID $wwid) holds no LUKS header"
  key_file=/dev/shm/$key_ref
  say "waiting for the LUKS key $key_ref at $key_file (pushed over SSH; up to $secret_wait s)"
  wait_until "$secret_wait" "LUKS key at $key_file" test -f "$key_file"
  cryptsetup open --readonly --key-file "$key_file" "$map" bootimg-root
  opened=$?
  rm -f "$key_file"
  [ -e "$key_file" ] && fail "could not remove the key file $key_file"
  say "key file $key_file removed"
  [ $opened -eq 0 ] || fail "cryptsetup open of $map with key $key_ref (exit $opened)"
  say "dm-crypt open: $(cryptsetup status bootimg-root | awk '/type:|cipher:|mode:/ {printf "%s %s ", $1, $2}')"

  mkdir -p /bootimg/lower /bootimg/rw "$newroot"
  mount -t squashfs -o ro /dev/mapper/bootimg-root /bootimg/lower || fail "mount of the squashfs in /dev/mapper/bootimg-root"
  say "squashfs mounted read-only"
  mount -t tmpfs -o mode=0755 bootimg-rw /bootimg/rw || fail "tmpfs for the overlay"
  mkdir -p /bootimg/rw/upper /bootimg/rw/work
  mount -t overlay -o lowerdir=/bootimg/lower,upperdir=/bootimg/rw/upper,workdir=/bootimg/rw/work overlay "$newroot" || fail "overlay on the squashfs"
  say "overlay mounted: squashfs below, tmpfs above"
  [ -x "$newroot$image_init" ] || [ -L "$newroot$image_init" ] || fail "the image has no $image_init"
  set +f
}
