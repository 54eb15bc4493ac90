#!/usr/bin/env bash
# extract of a generated sequestered realm against writing the same files as plain files
# (`cp -r` of a first extraction's files, from the page cache) on the same disk, interleaved
# in the same run (bench/paired.py). Two limits: `write` (cp -r alone: its data is still in the
# page cache when it exits) and `durable` (cp -r then `sync -f`, one syncfs: on disk, as extract
# leaves its files before writing its report); the ratio is against the larger, per round.
#   bench/extract-paired.sh [BLOCKS] [VLOBS] [BLOCK_MIN] [BLOCK_MAX] [ROUNDS]
#   default: 4005 2000 512KiB 512KiB 3
# Run it on a quiet machine: rounds that start while something else uses the CPU are flagged.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
BLOCKS=${1:-4005}; VLOBS=${2:-2000}; BMIN=${3:-512KiB}; BMAX=${4:-$BMIN}; ROUNDS=${5:-3}
cargo build --release --quiet
BIN="$PWD/target/release/parsec-sequester"
. scripts/lib-pg.sh
. bench/lib-sequestered.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench-extract.XXXXXX)
trap 'pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"
sequestered_export "$VLOBS" "$BLOCKS" "$BMIN" "$BMAX"
"$BIN" extract "$WORK/export.sqlite" --key "$KEY" "$WORK/first" > /dev/null 2>&1
echo "# $(date -u +%FT%TZ) $(nproc) cores; $BLOCKS blocks of $BMIN-$BMAX, $VLOBS vlob versions;" \
    "export $(du -sh "$WORK/export.sqlite" | cut -f1), extracted files $(du -sh --apparent-size "$WORK/first/files" | cut -f1)"
python3 bench/paired.py --rounds "$ROUNDS" --log "$WORK/log" \
    --limit "write=rm -rf '$WORK/copy'; cp -r '$WORK/first/files' '$WORK/copy'" \
    --limit "durable=rm -rf '$WORK/copy'; cp -r '$WORK/first/files' '$WORK/copy'; sync -f '$WORK/copy'" \
    --subject "extract=rm -rf '$WORK/out'; '$BIN' extract '$WORK/export.sqlite' --key '$KEY' '$WORK/out' 2>/dev/null >/dev/null"
