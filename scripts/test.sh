#!/usr/bin/env bash
# Runs every test of the workspace: doc tests, unit tests, and the end-to-end proofs on
# 127.0.0.1 (real fleet-server and kiosk-agent processes, real SQLite files). nextest runs last,
# so its summary line closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo test --workspace --doc --quiet
cargo build --workspace --bins --quiet
cargo nextest run --workspace --no-fail-fast "$@"
