#!/usr/bin/env bash
# POSTGRESQL-store export against its limits, interleaved in the same run (bench/paired.py):
#   bench/pg-paired.sh [BLOCKS] [VLOBS] [BLOCK_MIN] [BLOCK_MAX] [ROUNDS]
#   default: 4005 100012 512KiB 512KiB 3
# read limit: the realm's block data and vlob blobs copied out of PostgreSQL (binary COPY to
# /dev/null); write limit: the same block sizes written into a SQLite file (bench/limits.py).
# Run it on a quiet machine: rounds that start while something else uses the CPU are flagged.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
BLOCKS=${1:-4005}; VLOBS=${2:-100012}; BMIN=${3:-512KiB}; BMAX=${4:-$BMIN}; ROUNDS=${5:-3}
cargo build --release --quiet
BIN="$PWD/target/release/parsec-sequester"
. scripts/lib-pg.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench.XXXXXX)
trap 'pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"
"$BIN" testbed populate --db "$PG_URL" --create-schema --organization BenchOrg --realms 1 \
    --vlobs-per-realm "$VLOBS" --blocks-per-realm "$BLOCKS" --block-size-min "$BMIN" --block-size-max "$BMAX" \
    > "$WORK/populate.txt"
REALM=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")
psql "$PG_URL" -Atc "VACUUM ANALYZE" >/dev/null
# The write limit writes every byte the export copies: block data and vlob blobs alike (a
# realm of many vlobs is mostly vlob bytes).
psql "$PG_URL" -Atc "SELECT size FROM block UNION ALL SELECT size FROM vlob_atom" > "$WORK/sizes"
echo "# $(date -u +%FT%TZ) $(nproc) cores; $BLOCKS blocks of $BMIN-$BMAX, $VLOBS vlob versions," \
    "$(psql "$PG_URL" -Atc "SELECT pg_size_pretty((SELECT SUM(size) FROM block) + (SELECT SUM(size) FROM vlob_atom))")"
python3 bench/paired.py --rounds "$ROUNDS" --log "$WORK/log" \
    --limit "read=psql '$PG_URL' -c \"\\copy (SELECT data FROM block_data) TO '/dev/null' WITH (FORMAT binary)\" -c \"\\copy (SELECT blob FROM vlob_atom) TO '/dev/null' WITH (FORMAT binary)\"" \
    --limit "write=python3 bench/limits.py '$WORK/sizes' '$WORK/raw.sqlite'" \
    --subject "export=rm -f '$WORK/out.sqlite'; '$BIN' export-realm --quiet --db '$PG_URL' -b POSTGRESQL --organization BenchOrg --realm $REALM '$WORK/out.sqlite'"
