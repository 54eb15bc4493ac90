#!/usr/bin/env bash
# Installs what a fresh machine lacks to build, test and demo parsec-sequester:
# PostgreSQL's server binaries (initdb, postgres) from Debian's packages.
# The Rust toolchain itself is expected to be there (rustup/cargo).
set -euo pipefail

have_pg() {
    command -v initdb >/dev/null 2>&1 && return 0
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if ! have_pg; then
    echo "install-deps: installing PostgreSQL server binaries (apt-get)…"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq postgresql >/dev/null
fi

command -v cargo >/dev/null 2>&1 || {
    echo "install-deps: cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
}
echo "install-deps: ok"
