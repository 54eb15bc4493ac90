#!/usr/bin/env bash
# Installs what a fresh machine lacks to build, test and demo parsec-sequester:
# PostgreSQL's server binaries (initdb, postgres) and OpenStack Swift (proxy, account, container,
# object servers, with memcached for TempAuth's tokens) from Debian's packages, and Garage (S3).
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
if ! command -v openssl >/dev/null 2>&1; then
    echo "install-deps: installing openssl (test certificates)…"
    [ "$(id -u)" -ne 0 ] && SUDO="sudo" || SUDO=""
    $SUDO apt-get install -y -qq openssl >/dev/null
fi

# OpenStack Swift: the real Swift the tests assemble on 127.0.0.1 (tests/integration/swift.rs).
# TempAuth keeps its tokens in memcache, hence memcached. The tests start their own processes
# and use no system service these packages may start.
if ! command -v swift-proxy-server >/dev/null 2>&1 || ! command -v memcached >/dev/null 2>&1; then
    echo "install-deps: installing OpenStack Swift and memcached (apt-get)…"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq swift swift-proxy swift-object swift-container swift-account memcached >/dev/null
fi

command -v cargo >/dev/null 2>&1 || {
    echo "install-deps: cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
}

# Garage: the real S3 server the tests run (one process per store / RAID node).
# Built from crates.io; takes several minutes the first time, then it is cached in ~/.cargo/bin.
if ! garage --version >/dev/null 2>&1 && ! "$HOME/.cargo/bin/garage" --version >/dev/null 2>&1; then
    echo "install-deps: installing Garage 2.5.0 (S3 server for the tests; ~6-10 min on 2 cores)…"
    cargo install garage --locked --version 2.5.0 --quiet
fi

echo "install-deps: ok"
