#!/usr/bin/env bash
# Peak RSS of `extract --history`, `extract --list --history` and `verify --key` (each decodes
# every version) on a generated sequestered realm: memory, not time, so the machine need not be
# quiet and nothing is paired.
#   bench/history-memory.sh [VLOBS] [BLOCKS] [BLOCK_SIZE]
#   default: 80000 200 16KiB   (small blocks: the versions, not the content, are measured)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
VLOBS=${1:-80000}; BLOCKS=${2:-200}; BSIZE=${3:-16KiB}
cargo build --release --quiet
BIN="$PWD/target/release/parsec-sequester"
. scripts/lib-pg.sh
. bench/lib-sequestered.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench-history.XXXXXX)
trap 'pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"
sequestered_export "$VLOBS" "$BLOCKS" "$BSIZE" "$BSIZE" --sequester-key-bits 1024
VLOB_IDS=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True).execute("SELECT count(DISTINCT vlob_id) FROM vlob_atom").fetchone()[0])' "$WORK/export.sqlite")
echo "# $(date -u +%FT%TZ) $(nproc) cores; $VLOBS vlob versions of $VLOB_IDS vlobs, $BLOCKS blocks of $BSIZE; load $(cut -d' ' -f1 /proc/loadavg)"
rss() { # NAME CMD...: prints the command's peak RSS (and its time, one run: not a benchmark)
    local name=$1; shift
    /usr/bin/time -f "%M %e %U %S" -o "$WORK/rss" "$@" > /dev/null 2>&1 || [ $? -eq 3 ]
    read -r kib wall user sys < "$WORK/rss"
    echo "$name: peak RSS $(( kib / 1024 )) MiB (${wall} s, cpu ${user}u+${sys}s)"
}
rss "extract --history" "$BIN" extract "$WORK/export.sqlite" --key "$KEY" --history --quiet "$WORK/out"
rss "extract --list --history" "$BIN" extract "$WORK/export.sqlite" --key "$KEY" --list --history
rss "verify --key" "$BIN" verify "$WORK/export.sqlite" --key "$KEY"
rss "extract (tree at the snapshot)" "$BIN" extract "$WORK/export.sqlite" --key "$KEY" --quiet "$WORK/tree"
