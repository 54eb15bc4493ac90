#!/usr/bin/env bash
# The demo: on a fresh machine, install what is missing, build, start a throwaway PostgreSQL
# (blocks stored in PostgreSQL: nothing else to configure), fill it with a generated
# organization, export one realm with progress, re-run the export (it reports "complete"),
# verify the export against the database, then stop the server. The export is left in ./demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh
echo "== Building (release)…"
cargo build --release --quiet
BIN="$ROOT/target/release/parsec-sequester"

. scripts/lib-pg.sh
WORK=$(mktemp -d /tmp/parsec-sequester-demo.XXXXXX)
cleanup() {
    pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== Starting a throwaway PostgreSQL…"
pg_start "$WORK/pg"
DB="$PG_URL"

echo "== Generating an organization (Parsec v3 tables, blocks in PostgreSQL)…"
"$BIN" testbed populate --db "$DB" --create-schema --organization DemoOrg --sequestered \
    --realms 3 --vlobs-per-realm 400 --blocks-per-realm 300 | tee "$WORK/populate.txt"
REALM=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")

OUT="$ROOT/demo-output/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
echo
echo "== Exporting realm $REALM into $OUT"
"$BIN" export-realm --db "$DB" --blockstore POSTGRESQL --organization DemoOrg --realm "$REALM" "$OUT"
echo
echo "== Running the same command again: the export is complete, nothing is written"
"$BIN" export-realm --db "$DB" --blockstore POSTGRESQL --organization DemoOrg --realm "$REALM" "$OUT"
echo
echo "== Verifying the export, and comparing it with the database and every block"
"$BIN" verify --digest --against-db --all-blocks --db "$DB" --blockstore POSTGRESQL "$OUT"/*.sqlite
echo
echo "Done. The export is in $OUT:"
ls -l "$OUT"
