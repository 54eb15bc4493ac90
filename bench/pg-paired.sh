#!/usr/bin/env bash
# POSTGRESQL-store export against its limits, interleaved in the same run (bench/paired.py):
#   bench/pg-paired.sh [BLOCKS] [VLOBS] [BLOCK_MIN] [BLOCK_MAX] [ROUNDS]
#   default: 4005 100012 512KiB 512KiB 3
# read limit: the realm's block data and vlob blobs copied out of PostgreSQL (binary COPY to
# /dev/null); write limit: the same block sizes written into a SQLite file (bench/limits.py).
# With STEP=blocks, only the block-data step: the export runs on a copy (made untimed before
# each run) of a file whose certificates, vlobs and block metadata are done and whose block data
# was removed; the limits are then the block data alone (read: `block_data`; write: the blocks'
# sizes). The timed export still opens the file and recounts the realm's totals (resumed with
# Parsec's bounds: the bounds table goes when a file completes): that startup is counted in.
# Run it on a quiet machine: rounds that start while something else uses the CPU are flagged.
# COLD=1: the page cache is dropped before every timed command (bench/paired.py --cold; root).
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
EXPORT="'$BIN' export-realm --quiet --db '$PG_URL' -b POSTGRESQL --organization BenchOrg --realm $REALM '$WORK/out.sqlite'"
if [ "${STEP:-all}" = blocks ]; then
    "$BIN" export-realm --quiet --db "$PG_URL" -b POSTGRESQL --organization BenchOrg --realm "$REALM" "$WORK/pre.sqlite" > /dev/null
    python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); \
c.execute('DELETE FROM block_data'); c.execute('UPDATE info SET blocks_data_export_done = 0'); c.execute('VACUUM')" "$WORK/pre.sqlite"
    psql "$PG_URL" -Atc "SELECT size FROM block" > "$WORK/sizes"
    echo "# $(date -u +%FT%TZ) $(nproc) cores; block-data step only: $BLOCKS blocks of $BMIN-$BMAX," \
        "$(psql "$PG_URL" -Atc "SELECT pg_size_pretty(SUM(size)) FROM block")"
    python3 bench/paired.py --rounds "$ROUNDS" --log "$WORK/log" $([ "${COLD:-0}" = 1 ] && echo --cold) \
        --limit "read=psql '$PG_URL' -c \"\\copy (SELECT data FROM block_data) TO '/dev/null' WITH (FORMAT binary)\"" \
        --limit "write=python3 bench/limits.py '$WORK/sizes' '$WORK/raw.sqlite'" \
        --prepare "rm -f '$WORK/out.sqlite'; cp '$WORK/pre.sqlite' '$WORK/out.sqlite'" \
        --subject "export-step4=$EXPORT"
    # The timed runs did fetch every block (not "already complete").
    python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
n = c.execute('SELECT COUNT(*) FROM block_data').fetchone()[0]; m = c.execute('SELECT COUNT(*) FROM block').fetchone()[0]; \
sys.exit(0 if n == m == $BLOCKS else f'pg-paired: the step-4 export holds {n} of {m} blocks')" "$WORK/out.sqlite"
    exit
fi
# The write limit writes every byte the export copies: block data and vlob blobs alike (a
# realm of many vlobs is mostly vlob bytes).
psql "$PG_URL" -Atc "SELECT size FROM block UNION ALL SELECT size FROM vlob_atom" > "$WORK/sizes"
echo "# $(date -u +%FT%TZ) $(nproc) cores; $BLOCKS blocks of $BMIN-$BMAX, $VLOBS vlob versions," \
    "$(psql "$PG_URL" -Atc "SELECT pg_size_pretty((SELECT SUM(size) FROM block) + (SELECT SUM(size) FROM vlob_atom))")"
python3 bench/paired.py --rounds "$ROUNDS" --log "$WORK/log" $([ "${COLD:-0}" = 1 ] && echo --cold) \
    --limit "read=psql '$PG_URL' -c \"\\copy (SELECT data FROM block_data) TO '/dev/null' WITH (FORMAT binary)\" -c \"\\copy (SELECT blob FROM vlob_atom) TO '/dev/null' WITH (FORMAT binary)\"" \
    --limit "write=python3 bench/limits.py '$WORK/sizes' '$WORK/raw.sqlite'" \
    --subject "export=rm -f '$WORK/out.sqlite'; $EXPORT"
