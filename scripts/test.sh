#!/usr/bin/env bash
# Runs every test of the workspace: doc tests, unit tests, the end-to-end proofs on 127.0.0.1
# (real fleet-server and kiosk-agent processes, real SQLite files), and the appliance image
# booted in QEMU and updated through RAUC (the image and its test releases are built first:
# release binaries, then image/build.sh --test-releases, which needs
# root, so sudo when not root). nextest runs last, so its summary line closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo test --workspace --doc --quiet
cargo build --workspace --bins --quiet
cargo build --release --quiet -p kiosk-agent -p kiosk-app --no-default-features \
  --features kiosk-app/linuxkms --bins
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
mkdir -p target
if ! $SUDO image/build.sh --skip-cargo --test-releases > target/image-build.log 2>&1; then
  tail -n 40 target/image-build.log; echo "test: the image build failed (target/image-build.log)" >&2; exit 1
fi
tail -n 1 target/image-build.log
cargo nextest run --workspace --no-fail-fast "$@"
