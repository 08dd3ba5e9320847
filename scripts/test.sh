#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the end-to-end proofs on 127.0.0.1 (real
# fleet-server and kiosk-agent processes, real SQLite files) and the doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo build --workspace --bins --quiet
cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc --quiet
