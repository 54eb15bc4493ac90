#!/usr/bin/env bash
# Installs what a fresh machine lacks to build, test and demo parsec-sequester:
# - from Debian's packages: PostgreSQL's server binaries (initdb, postgres), openssl (test
#   certificates), OpenStack Swift (proxy, account, container, object servers) and memcached
#   (TempAuth keeps its tokens there), strace (a test traces what extract opens); the tests
#   start their own processes and use no system service these packages may start;
# - from crates.io: Garage, the S3 server of the tests.
# The Rust toolchain itself is expected to be there (rustup/cargo).
set -euo pipefail

command -v cargo >/dev/null 2>&1 || {
    echo "install-deps: cargo not found: install the Rust toolchain (https://rustup.rs) first" >&2
    exit 1
}

packages=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v swift-proxy-server >/dev/null 2>&1 || packages+=(swift swift-proxy swift-object swift-container swift-account)
command -v memcached >/dev/null 2>&1 || packages+=(memcached)
command -v strace >/dev/null 2>&1 || packages+=(strace)
if [ ${#packages[@]} -gt 0 ]; then
    echo "install-deps: installing ${packages[*]} (apt-get)…"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# Built from crates.io; several minutes the first time, then cached in ~/.cargo/bin.
if ! garage --version >/dev/null 2>&1 && ! "$HOME/.cargo/bin/garage" --version >/dev/null 2>&1; then
    echo "install-deps: installing Garage 2.5.0 (S3 server for the tests; ~6-10 min on 2 cores)…"
    cargo install garage --locked --version 2.5.0 --quiet
fi

echo "install-deps: ok"
