#!/usr/bin/env bash
# Runs every test of the workspace: clippy's lints, doc tests, unit tests, the end-to-end proofs
# on 127.0.0.1 (real fleet-server and kiosk-agent processes, real SQLite files), and the
# appliance image booted in QEMU and updated through RAUC.
#
# The order keeps both cores busy. The QEMU tests emulate (TCG) on one core for half an hour,
# so they start as early as they can: release programs, then the image and its test releases
# (image/build.sh --test-releases, root: sudo when not root) built while the debug programs and
# every test binary compile, then the QEMU tests in the background while clippy, the doc tests
# and the other tests use the other core. Everything is built before the background run starts,
# so nothing relinks a program a VM test is about to start. Each phase prints its time;
# the summaries of both test runs close the output. Extra arguments go to both nextest runs.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null || exit 1
mkdir -p target
start=$SECONDS
phase() { printf 'test: %s (%d s)\n' "$1" $((SECONDS - start)); }
die() { echo "test: $*" >&2; exit 1; }

# The QEMU tests: nextest's filter (and their test group in .config/nextest.toml).
vm_tests='binary(appliance_in_qemu) | binary(appliance_updates_in_qemu)'

phase "release programs for the image"
cargo build --release --quiet -p kiosk-agent -p kiosk-app --no-default-features \
  --features kiosk-app/linuxkms --bins || die "the release build failed"

phase "the image and its test releases (background), the debug programs and the test binaries"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO image/build.sh --skip-cargo --test-releases > target/image-build.log 2>&1 &
image_pid=$!
cargo build --workspace --bins --quiet || die "the debug build failed"
cargo nextest run --workspace --no-run --cargo-quiet || die "the test binaries did not build"
if ! wait $image_pid; then
  tail -n 40 target/image-build.log
  die "the image build failed (target/image-build.log)"
fi
tail -n 1 target/image-build.log

phase "QEMU tests (background, log in target/vm-tests.log); clippy, doc tests, the other tests"
cargo nextest run --workspace --no-fail-fast -E "$vm_tests" "$@" > target/vm-tests.log 2>&1 &
vm_pid=$!
# Its cargo step only checks that the binaries are fresh; let it finish before clippy takes
# the build directory's lock, or the VMs wait for the lints.
for _ in $(seq 600); do
  grep -q 'Starting' target/vm-tests.log 2>/dev/null || ! kill -0 $vm_pid 2>/dev/null && break
  sleep 0.5
done
status=0
cargo clippy --workspace --all-targets --quiet -- -D warnings || { echo "test: clippy failed" >&2; status=1; }
cargo test --workspace --doc --quiet || { echo "test: doc tests failed" >&2; status=1; }
cargo nextest run --workspace --no-fail-fast -E "not ($vm_tests)" "$@" || status=1

phase "waiting for the QEMU tests"
wait $vm_pid || status=1
grep -vE '^\s+(PASS|SLOW|START)' target/vm-tests.log | tail -n 60
phase "done ($([ $status -eq 0 ] && echo passed || echo FAILED))"
exit $status
