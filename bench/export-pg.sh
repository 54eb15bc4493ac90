#!/usr/bin/env bash
# Measures an export from the POSTGRESQL blockstore: a throwaway PostgreSQL is filled by the
# generator with one realm, then exported; wall time and peak RSS come from /usr/bin/time.
#   bench/export-pg.sh BLOCKS VLOBS BLOCK_MIN BLOCK_MAX [export options…]
# e.g. bench/export-pg.sh 20000 25000 64KiB 192KiB --jobs 32
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
ROOT=$PWD
BLOCKS=${1:-2000}; VLOBS=${2:-25000}; BMIN=${3:-16KiB}; BMAX=${4:-512KiB}
shift $(( $# < 4 ? $# : 4 ))
cargo build --release --quiet
BIN="$ROOT/target/release/parsec-sequester"
. scripts/lib-pg.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench.XXXXXX)
trap 'pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"

start=$(date +%s.%N)
"$BIN" testbed populate --db "$PG_URL" --create-schema --organization BenchOrg --realms 1 \
    --vlobs-per-realm "$VLOBS" --blocks-per-realm "$BLOCKS" --block-size-min "$BMIN" --block-size-max "$BMAX" \
    > "$WORK/populate.txt"
end=$(date +%s.%N)
REALM=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")
echo "populate: $(echo "$end - $start" | bc) s ($BLOCKS blocks $BMIN..$BMAX, $VLOBS vlob versions)"

/usr/bin/time -f "export: wall %e s, peak RSS %M KiB" "$BIN" export-realm --quiet --db "$PG_URL" -b POSTGRESQL \
    --organization BenchOrg --realm "$REALM" "$WORK/out.sqlite" "$@" > "$WORK/summary.txt"
grep -E "vlob versions|blocks  |block data|elapsed" "$WORK/summary.txt"
ls -l "$WORK/out.sqlite" | awk '{print "file: " $5 " bytes"}'
