#!/usr/bin/env bash
# Installs what building and testing Okénko needs on a fresh Debian/Ubuntu machine, when it is
# missing: a C compiler (SQLite and ring are built from source), pkg-config, curl, picocom (to
# try the technician's serial console locally), the libinput
# and xkbcommon headers (the kiosk UI's fullscreen backend), Chromium (the dashboard's browser
# tests run it headless), cargo-nextest, and what the appliance image's build and its QEMU tests
# need (mmdebstrap, mtools, dosfstools, fdisk, OVMF, socat (the VM's way to the fleet), rauc,
# squashfs-tools and openssl (the update bundles and their signing keys), QEMU 8.1 or later for the virtio
# multi-touch screen: on Debian bookworm from bookworm-backports, which this script adds with the
# mirror apt already uses), PostgreSQL and HAProxy (the fleet of several instances on one
# database, behind a load balancer: the tests start their own throw-away server and balancer on
# 127.0.0.1; the packages' own services are left stopped). Safe to run again; it only installs
# what is absent.
set -euo pipefail

need_apt=()
for cmd_pkg in cc:build-essential pkg-config:pkg-config curl:curl picocom:picocom; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# Debian's chromium; Ubuntu calls it chromium-browser. The tests find either, or $CHROMIUM.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
   && [ -z "${CHROMIUM:-}" ]; then
  need_apt+=(chromium)
fi
for lib_pkg in libinput:libinput-dev libudev:libudev-dev xkbcommon:libxkbcommon-dev; do
  lib=${lib_pkg%%:*}; pkg=${lib_pkg#*:}
  pkg-config --exists "$lib" 2>/dev/null || need_apt+=("$pkg")
done
for cmd_pkg in mmdebstrap:mmdebstrap mcopy:mtools mkfs.vfat:dosfstools sfdisk:fdisk \
               mkfs.ext4:e2fsprogs qemu-img:qemu-utils socat:socat rauc:rauc \
               mksquashfs:squashfs-tools openssl:openssl debugfs:e2fsprogs; do
  cmd=${cmd_pkg%%:*}; pkg=${cmd_pkg#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/sbin/$cmd" ] || need_apt+=("$pkg")
done
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || need_apt+=(ovmf)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
# Audio mode's speech (the agent's tests synthesise real WAV files) and its player.
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
command -v aplay >/dev/null 2>&1 || need_apt+=(alsa-utils)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

# QEMU with virtio-multitouch-pci (8.1+). Debian bookworm has 7.2; its backports have 10.
if ! qemu-system-x86_64 -device help 2>/dev/null | grep -q virtio-multitouch-pci; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  release=()
  if [ "$codename" = bookworm ]; then
    if ! apt-cache policy | grep -q " bookworm-backports/main"; then
      mirror=$(apt-cache policy | awk '$2 ~ /^(https?|file):/ && $3 == "bookworm/main" {print $2; exit}')
      echo "setup: adding bookworm-backports from $mirror (for QEMU 8.1+)"
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" | $SUDO tee /etc/apt/sources.list.d/okenko-backports.sources >/dev/null
      $SUDO apt-get update -q
    fi
    release=(-t bookworm-backports)
  fi
  echo "setup: installing qemu-system-x86 ${release[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${release[@]}" qemu-system-x86
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is missing; install it with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install --locked cargo-nextest
fi
echo "setup: ready"
