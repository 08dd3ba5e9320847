#!/usr/bin/env bash
# Installs what building and testing Okénko needs on a fresh Debian/Ubuntu machine, when it is
# missing: a C compiler (SQLite and ring are built from source), pkg-config, curl, picocom (to
# try the technician's serial console locally), the libinput
# and xkbcommon headers (the kiosk UI's fullscreen backend), Chromium (the dashboard's browser
# tests run it headless) and cargo-nextest. Safe to run again; it only installs what is absent.
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
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
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
