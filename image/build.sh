#!/usr/bin/env bash
# Builds the Okénko appliance image: a bootable x86_64 UEFI disk image (GPT: an ESP with
# systemd-boot, root slots A and B, a data partition) from Debian packages, with no loop device
# and no mount: mmdebstrap makes the root in a directory, mkfs.ext4 -d and mkfs.vfat + mtools
# make the file systems, sfdisk the partition table, dd puts them in place.
#
#   image/build.sh [--out DIR] [--skip-cargo] [--peer chromium]
#
# --peer chromium builds, for the boot benchmark only, the same image with what a city would
# otherwise pick: cage (a Wayland kiosk compositor) and Chromium in kiosk mode showing an
# equivalent HTML home page (image/peer/), instead of the agent and the app (target/image-peer).
#
# Writes DIR/okenko-<version>.img (sparse raw disk), DIR/okenko-<version>.root.ext4 (the root
# file system alone, what an update installs) and DIR/build.txt (sizes and times). DIR defaults
# to target/image. Needs root (mmdebstrap's root mode) and the packages scripts/setup-image.sh
# installs. The Debian mirror is the one this machine's apt already uses; set OKENKO_MIRROR
# (and OKENKO_SECURITY_MIRROR) to use another. See docs/image.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

out=
skip_cargo=0
peer=
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --skip-cargo) skip_cargo=1; shift ;;
    --peer) peer=$2; shift 2 ;;
    *) echo "usage: image/build.sh [--out DIR] [--skip-cargo] [--peer chromium]" >&2; exit 2 ;;
  esac
done
case $peer in
  "") out=${out:-$repo/target/image} ;;
  chromium) out=${out:-$repo/target/image-peer} ;;
  *) echo "image: --peer knows only chromium" >&2; exit 2 ;;
esac

# trixie: RAUC 1.13 (with rauc-service: the D-Bus service and policy; get-current in the custom
# boot backend), systemd 257 (boot counting, ConditionCredential, udevadm verify), kernel 6.12.
suite=trixie
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
start=$(date +%s)
mkdir -p "$out"
work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { echo "image: $* ($(( $(date +%s) - start )) s)"; }

# 1. The two programs, built for the appliance: the app with only its fullscreen backend.
if [ "$skip_cargo" = 0 ]; then
  step "building kiosk-agent and kiosk-app (release)"
  cargo build --release --quiet -p kiosk-agent -p kiosk-app --no-default-features \
    --features kiosk-app/linuxkms --bins
fi
bins=$repo/target/release
for b in kiosk-agent kioskctl kiosk-app; do
  [ -x "$bins/$b" ] || { echo "image: $bins/$b is missing" >&2; exit 1; }
done

# 2. Where the packages come from: the mirror this machine's apt uses (never a name of ours).
mirror=${OKENKO_MIRROR:-$(apt-cache policy | awk '$2 ~ /^(https?|file):/ && $3 ~ /^[a-z]+\/main$/ {print $2; exit}')}
security=${OKENKO_SECURITY_MIRROR:-$(apt-cache policy | awk '$2 ~ /^(https?|file):/ && $3 ~ /-security\// {print $2; exit}')}
[ -n "$mirror" ] || { echo "image: no Debian mirror in apt's sources; set OKENKO_MIRROR" >&2; exit 1; }
{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -z "$security" ] || echo "deb $security $suite-security main"
} > "$work/sources.list"

packages=(
  systemd systemd-sysv udev dbus systemd-timesyncd systemd-resolved
  linux-image-amd64 initramfs-tools zstd systemd-boot-efi
  rauc rauc-service
  libinput10 libudev1 libxkbcommon0 libfontconfig1
  kmod procps e2fsprogs iproute2
)
peer_hooks=()
if [ -n "$peer" ]; then
  packages+=(cage chromium seatd fonts-dejavu-core)
  peer_hooks=(
    --customize-hook="mkdir -p \"\$1/usr/share/okenko-peer\" && cp '$repo/image/peer/index.html' \"\$1/usr/share/okenko-peer/\""
    --customize-hook="cp '$repo/image/peer/okenko-peer.service' \"\$1/etc/systemd/system/\""
    --customize-hook="chroot \"\$1\" /bin/sh -eu -c 'useradd --system --uid 903 --groups video,input,render --no-create-home --home-dir /var/lib/okenko-peer peer; systemctl disable okenko-agent.service okenko-app.service; systemctl enable seatd.service okenko-peer.service'"
  )
fi
cache=$repo/target/image-cache/debs
mkdir -p "$cache"

# 3. The root: packages, then our files, users and units (hooks run with the root as $1).
step "bootstrapping Debian $suite"
rootfs=$work/root
mmdebstrap --mode=root --variant=minbase --quiet \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="find '$cache' -name '*.deb' -exec cp -t \"\$1/var/cache/apt/archives\" {} +" \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"' \
  --essential-hook="cp '$repo/image/rootfs/etc/initramfs-tools/conf.d/okenko.conf' \"\$1/etc/initramfs-tools/conf.d/\"" \
  --essential-hook="cp '$repo/image/rootfs/usr/share/initramfs-tools/modules.d/okenko' \"\$1/usr/share/initramfs-tools/modules.d/\"" \
  --customize-hook="find \"\$1/var/cache/apt/archives\" -name '*.deb' -exec cp -n -t '$cache' {} +" \
  --customize-hook="cp -a '$repo/image/rootfs/.' \"\$1/\"" \
  --customize-hook="install -m 0755 '$bins/kiosk-agent' '$bins/kioskctl' '$bins/kiosk-app' \"\$1/usr/bin/\"" \
  --customize-hook="strip --strip-debug \"\$1/usr/bin/kiosk-agent\" \"\$1/usr/bin/kioskctl\" \"\$1/usr/bin/kiosk-app\"" \
  --customize-hook="mkdir -p \"\$1/usr/share/okenko/fonts\" && cp '$repo'/assets/fonts/* \"\$1/usr/share/okenko/fonts/\"" \
  --customize-hook="cp '$repo'/udev-rules/*.rules \"\$1/etc/udev/rules.d/\"" \
  --customize-hook="chroot \"\$1\" /bin/sh -eu /dev/stdin < '$repo/image/configure.sh'" \
  --customize-hook="echo '$version' > \"\$1/etc/okenko/release\"" \
  "${peer_hooks[@]}" \
  "$suite" "$rootfs" "$work/sources.list"

# 4. What the ESP boots: the slot's kernel and initrd (a copy per slot, as each slot has its own).
kernel=$(ls "$rootfs"/boot/vmlinuz-* | sort -V | tail -n1)
initrd=$(ls "$rootfs"/boot/initrd.img-* | sort -V | tail -n1)
cp "$kernel" "$work/vmlinuz"; cp "$initrd" "$work/initrd.img"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
: > "$rootfs/etc/machine-id"
mkdir -p "$rootfs/data" "$rootfs/efi"

# 5. File systems, each in a partition-sized file.
mib() { echo $(( ($1 + 1048575) / 1048576 )); }
root_bytes=$(du -sb "$rootfs" | cut -f1)
root_mib=$(( $(mib "$root_bytes") * 115 / 100 + 64 ))
esp_mib=128
data_mib=512
step "making the file systems (root ${root_mib} MiB)"
# The root is mounted read-only; it needs no journal.
mkfs.ext4 -q -F -L okenko-root -O ^has_journal -E root_owner=0:0 -d "$rootfs" \
  "$work/root.ext4" "${root_mib}M"
mkdir -p "$work/empty"
mkfs.ext4 -q -F -L okenko-root -O ^has_journal "$work/root-b.ext4" "${root_mib}M"
mkfs.ext4 -q -F -L okenko-data -d "$work/empty" "$work/data.ext4" "${data_mib}M"

mkfs.vfat -n OKENKO-ESP -C "$work/esp.vfat" $(( esp_mib * 1024 )) >/dev/null
esp() { MTOOLS_SKIP_CHECK=1 "$@"; }
esp mmd -i "$work/esp.vfat" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/okenko ::/okenko/a
esp mcopy -i "$work/esp.vfat" "$rootfs/usr/lib/systemd/boot/efi/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
esp mcopy -i "$work/esp.vfat" "$work/vmlinuz" "$work/initrd.img" ::/okenko/a/
cat > "$work/loader.conf" <<'EOF'
timeout 0
editor no
console-mode keep
EOF
# One entry per slot, the same sort-key, the slot to boot with the highest version (see
# docs/image.md; the update backend rewrites these).
cat > "$work/okenko-a.conf" <<EOF
title Okénko $version (slot A)
sort-key okenko
version $version
linux /okenko/a/vmlinuz
initrd /okenko/a/initrd.img
options root=PARTLABEL=okenko-root-a rauc.slot=A ro rootfstype=ext4 fsck.mode=skip systemd.volatile=state quiet loglevel=3 systemd.show_status=false rd.udev.log_level=3 console=tty1 vt.global_cursor_default=0
EOF
esp mcopy -i "$work/esp.vfat" "$work/loader.conf" ::/loader/loader.conf
esp mcopy -i "$work/esp.vfat" "$work/okenko-a.conf" ::/loader/entries/okenko-a.conf

# 6. The disk: GPT, then each file system at its partition's offset.
img=$out/okenko-$version.img
rm -f "$img"
total_mib=$(( 1 + esp_mib + 2 * root_mib + data_mib + 1 ))
truncate -s "${total_mib}M" "$img"
sfdisk --quiet "$img" <<EOF
label: gpt
size=${esp_mib}MiB, type=uefi, name=okenko-esp
size=${root_mib}MiB, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, name=okenko-root-a
size=${root_mib}MiB, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, name=okenko-root-b
size=${data_mib}MiB, type=linux, name=okenko-data
EOF
put() { # put FILE PARTITION-NUMBER
  local start
  start=$(sfdisk --json "$img" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['partitions'][$2-1]['start'])")
  dd if="$1" of="$img" bs=512 seek="$start" conv=notrunc,sparse status=none
}
step "writing the disk"
put "$work/esp.vfat" 1
put "$work/root.ext4" 2
put "$work/root-b.ext4" 3
put "$work/data.ext4" 4
cp --sparse=always "$work/root.ext4" "$out/okenko-$version.root.ext4"

took=$(( $(date +%s) - start ))
{
  echo "version $version"
  echo "suite $suite"
  echo "seconds $took"
  echo "root_bytes $root_bytes"
  echo "image_bytes $(stat -c %s "$img")"
  echo "image_allocated_bytes $(( $(stat -c %b "$img") * 512 ))"
} > "$out/build.txt"
step "done: $img"
cat "$out/build.txt"
