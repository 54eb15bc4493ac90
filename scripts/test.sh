#!/usr/bin/env bash
# The test command (README): formatting, lints, then every test against a real PostgreSQL
# server that the test harness starts itself (or PARSEC_TEST_DB_URL, if set).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets "$@"
