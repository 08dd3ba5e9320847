#!/usr/bin/env bash
# Builds the Okénko appliance image: a bootable x86_64 UEFI disk image (GPT: an ESP with
# systemd-boot, root slots A and B, a data partition) from Debian packages, with no loop device
# and no mount: mmdebstrap makes the root in a directory, mkfs.ext4 -d and mkfs.vfat + mtools
# make the file systems, sfdisk the partition table, dd puts them in place.
#
#   image/build.sh [--out DIR] [--skip-cargo] [--peer chromium] [--version V]
#                  [--keys DIR] [--test-releases]
#
# --peer chromium builds, for the boot benchmark only, the same image with what a city would
# otherwise pick: cage (a Wayland kiosk compositor) and Chromium in kiosk mode showing an
# equivalent HTML home page (image/peer/), instead of the agent and the app (target/image-peer).
#
# Writes DIR/okenko-<version>.img (sparse raw disk), DIR/okenko-<version>.root.ext4 (the root
# file system alone), the release DIR/okenko-<version>.raucb (a RAUC verity bundle of that root,
# signed with the RAUC key) with DIR/okenko-<version>.raucb.manifest.json (the fleet's ed25519
# signature over it, as `fleetctl release sign` makes it: `fleetctl release upload` takes the
# pair) and DIR/build.txt (sizes and times). DIR defaults to target/image.
#
# The keys come from --keys DIR (default target/image-keys): rauc-ca.pem (the image's RAUC
# keyring), rauc-signer.pem/.key (signs bundles), release.pk8 (the fleet's release key, whose
# public key the image trusts). Missing ones are made there (development keys; a city keeps its
# own offline, see docs/image.md). --version builds another release number than the workspace's.
# --test-releases also builds the releases the update tests roll out: the next minor version,
# one whose app crashes, one that cannot boot, and two RAUC refuses (another signer, other
# hardware), in DIR/test-releases/. Needs root (mmdebstrap's root mode) and the packages scripts/setup-image.sh
# installs. The Debian mirror is the one this machine's apt already uses; set OKENKO_MIRROR
# (and OKENKO_SECURITY_MIRROR) to use another. See docs/image.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

out=
skip_cargo=0
peer=
version=
keys=$repo/target/image-keys
test_releases=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --skip-cargo) skip_cargo=1; shift ;;
    --peer) peer=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --test-releases) test_releases=1; shift ;;
    *) echo "usage: image/build.sh [--out DIR] [--skip-cargo] [--peer chromium] [--version V] [--keys DIR] [--test-releases]" >&2; exit 2 ;;
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
version=${version:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)}
hardware=okenko-x86_64
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
fleetctl=
for f in "$repo/target/release/fleetctl" "$repo/target/debug/fleetctl"; do
  [ -x "$f" ] && { fleetctl=$f; break; }
done
[ -n "$fleetctl" ] || cargo build --quiet -p fleet-server --bin fleetctl
fleetctl=${fleetctl:-$repo/target/debug/fleetctl}

# The keys: RAUC's CA (the image's keyring) and a signer it certifies; the fleet's release key.
mkdir -p "$keys"
if [ ! -e "$keys/rauc-ca.pem" ]; then
  step "making development RAUC keys in $keys"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/O=Okenko/CN=Okenko RAUC CA (development)" \
    -keyout "$keys/rauc-ca.key" -out "$keys/rauc-ca.pem" 2>/dev/null
  rm -f "$keys/rauc-signer.pem"
fi
if [ ! -e "$keys/rauc-signer.pem" ]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/O=Okenko/CN=Okenko RAUC release signer (development)" \
    -keyout "$keys/rauc-signer.key" -out "$keys/rauc-signer.csr" 2>/dev/null
  openssl x509 -req -in "$keys/rauc-signer.csr" -CA "$keys/rauc-ca.pem" -CAkey "$keys/rauc-ca.key" \
    -CAcreateserial -days 3650 -out "$keys/rauc-signer.pem" 2>/dev/null
fi
[ -e "$keys/release.pk8" ] || "$fleetctl" key new "$keys/release.pk8" >/dev/null
"$fleetctl" key show "$keys/release.pk8" > "$keys/release-keys"
chmod 0600 "$keys"/*.key "$keys/release.pk8"

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
  systemd-boot  # systemd-bless-boot and its generator: a counted boot is blessed (docs/image.md)
  rauc rauc-service
  libinput10 libudev1 libxkbcommon0 libfontconfig1
  espeak-ng alsa-utils  # audio mode: the agent speaks (espeak-ng) through ALSA (aplay)
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
  --customize-hook="install -m 0644 '$keys/rauc-ca.pem' \"\$1/etc/rauc/keyring.pem\"" \
  --customize-hook="install -m 0644 '$keys/release-keys' \"\$1/etc/okenko/release-keys\"" \
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
# The slots leave room for later releases to grow (an update writes a root of any size up to it).
slot_mib=$(( (root_mib * 3 / 2 + 63) / 64 * 64 ))
esp_mib=128
data_mib=512
step "making the file systems (root ${root_mib} MiB)"
# The root is mounted read-only; it needs no journal.
mkfs.ext4 -q -F -L okenko-root -O ^has_journal -E root_owner=0:0 -d "$rootfs" \
  "$work/root.ext4" "${root_mib}M"
mkdir -p "$work/empty"
mkfs.ext4 -q -F -L okenko-root -O ^has_journal "$work/root-b.ext4" "${slot_mib}M"
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
# One entry per slot, the same sort-key; systemd-boot boots the one with the highest version
# not marked bad. RAUC's boot backend (/usr/lib/okenko/rauc-boot) writes B's at an update, with
# a try counter in its name (see docs/image.md).
cat > "$work/okenko-a.conf" <<EOF
title Okénko $version (slot A)
sort-key okenko
version 1
linux /okenko/a/vmlinuz
initrd /okenko/a/initrd.img
options $(sed 's/@SLOT@/A/g; s/@slot@/a/g' "$rootfs/usr/lib/okenko/boot-options")
EOF
esp mcopy -i "$work/esp.vfat" "$work/loader.conf" ::/loader/loader.conf
esp mcopy -i "$work/esp.vfat" "$work/okenko-a.conf" ::/loader/entries/okenko-a.conf

# 6. The disk: GPT, then each file system at its partition's offset.
img=$out/okenko-$version.img
rm -f "$img"
total_mib=$(( 1 + esp_mib + 2 * slot_mib + data_mib + 1 ))
truncate -s "${total_mib}M" "$img"
sfdisk --quiet "$img" <<EOF
label: gpt
size=${esp_mib}MiB, type=uefi, name=okenko-esp
size=${slot_mib}MiB, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, name=okenko-root-a
size=${slot_mib}MiB, type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709, name=okenko-root-b
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

# 7. The release: a RAUC verity bundle of the root, signed by the RAUC signer, then wrapped in
# the fleet's signed manifest.
release() { # release ROOT-EXT4 VERSION OUT-DIR [COMPATIBLE] [SIGNER]
  local dir=$work/bundle-$2 compat=${4:-$hardware} signer=${5:-$keys/rauc-signer}
  rm -rf "$dir"; mkdir -p "$dir"
  cp --sparse=always "$1" "$dir/rootfs.ext4"
  cat > "$dir/manifest.raucm" <<EOF
[update]
compatible=$compat
version=$2
description=Okénko $2

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF
  rm -f "$3/okenko-$2.raucb"
  # Checked here too, against the CA the image trusts (a stranger's self-signed key, itself).
  local trust=$keys/rauc-ca.pem
  [ "$signer" = "$keys/rauc-signer" ] || trust=$signer.pem
  rauc bundle --cert="$signer.pem" --key="$signer.key" --keyring="$trust" \
    --mksquashfs-args="-comp zstd -Xcompression-level 6 -quiet" \
    "$dir" "$3/okenko-$2.raucb" >/dev/null
  rm -f "$3/okenko-$2.raucb.manifest.json"
  "$fleetctl" release sign "$keys/release.pk8" "$3/okenko-$2.raucb" --version "$2" \
    --compatible "$hardware" >/dev/null
  rm -rf "$dir"
}
step "making the release bundle"
release "$work/root.ext4" "$version" "$out"

if [ "$test_releases" = 1 ]; then
  # The releases the update tests roll out (hw-tests/tests/appliance_updates_in_qemu.rs), made
  # from this root by changing a file or two in a copy of its file system (debugfs).
  next=$(echo "$version" | awk -F. '{ printf "%d.%d.0", $1, $2 + 1 }')
  tr=$out/test-releases; rm -rf "$tr"; mkdir -p "$tr"
  variant() { # variant VERSION [DEBUGFS-COMMANDS]
    cp --sparse=always "$work/root.ext4" "$work/variant.ext4"
    echo "$1" > "$work/variant-release"
    { echo "rm /etc/okenko/release"; echo "write $work/variant-release /etc/okenko/release"
      echo "sif /etc/okenko/release mode 0100644"; printf '%s\n' "${@:2}"; } \
      | debugfs -w -f - "$work/variant.ext4" >/dev/null 2>&1
    release "$work/variant.ext4" "$1" "$tr"
  }
  step "making the test releases ($next and its broken siblings)"
  variant "$next"
  printf '#!/bin/sh\necho "kiosk-app: this test release crashes as it starts" >&2\nexit 70\n' > "$work/crash"
  chmod 0755 "$work/crash"
  variant "$next-crashes" "rm /usr/bin/kiosk-app" "write $work/crash /usr/bin/kiosk-app" \
    "sif /usr/bin/kiosk-app mode 0100755"
  printf '#!/bin/sh\nexit 1\n' > "$work/noinit"
  variant "$next-noboot" "rm /usr/lib/systemd/systemd" "write $work/noinit /usr/lib/systemd/systemd" \
    "sif /usr/lib/systemd/systemd mode 0100755"
  # RAUC's refusals need no real root: a small file system will do.
  mkdir -p "$work/small/etc/okenko"; head -c 1M /dev/urandom > "$work/small/etc/okenko/filler"
  mkfs.ext4 -q -F -L okenko-root -O ^has_journal -d "$work/small" "$work/small.ext4" 16M
  if [ ! -e "$keys/rauc-stranger.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/O=Someone else/CN=Not the city's RAUC signer" \
      -keyout "$keys/rauc-stranger.key" -out "$keys/rauc-stranger.pem" 2>/dev/null
  fi
  release "$work/small.ext4" "$next-stranger" "$tr" "$hardware" "$keys/rauc-stranger"
  release "$work/small.ext4" "$next-otherhw" "$tr" "okenko-other-hardware"
  ls "$tr" > "$tr/list.txt"
fi

took=$(( $(date +%s) - start ))
{
  echo "version $version"
  echo "suite $suite"
  echo "seconds $took"
  echo "root_bytes $root_bytes"
  echo "image_bytes $(stat -c %s "$img")"
  echo "image_allocated_bytes $(( $(stat -c %b "$img") * 512 ))"
  echo "bundle_bytes $(stat -c %s "$out/okenko-$version.raucb")"
} > "$out/build.txt"
step "done: $img"
cat "$out/build.txt"
