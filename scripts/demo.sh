#!/usr/bin/env bash
# The demo: on a fresh machine, install what is missing, build, start a throwaway PostgreSQL
# (blocks stored in PostgreSQL: nothing else to configure), fill it with a generated
# organization, export one realm with progress, re-run the export (it reports "complete"),
# then stop the server. The export is left in ./demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh
echo "== Building (release)…"
cargo build --release --quiet
BIN="$ROOT/target/release/parsec-sequester"

pg_bin() {
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else ls /usr/lib/postgresql/*/bin/"$1" | sort | tail -n 1; fi
}
WORK=$(mktemp -d /tmp/parsec-sequester-demo.XXXXXX)
PGDATA="$WORK/pg"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown nobody "$WORK"
cleanup() {
    as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== Starting a throwaway PostgreSQL on 127.0.0.1:$PORT…"
as_pg "$(pg_bin initdb)" -D "$PGDATA" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" -l "$WORK/pg/log" -w \
    -o "-k $PGDATA -p $PORT -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
DB="postgresql://postgres@127.0.0.1:$PORT/postgres"

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
echo "Done. The export is in $OUT:"
ls -l "$OUT"
