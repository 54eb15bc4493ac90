#!/usr/bin/env bash
# The demo: on a fresh machine, install what is missing, build, start a throwaway PostgreSQL
# (and a throwaway Garage S3 store when Garage is installed, or DEMO_S3=1), fill it with a
# generated organization, show `realms` and `human-accesses`, export a realm with progress,
# interrupt a second export halfway and resume it, verify both files, extract the first with a
# sequester service key and compare the files with the generator's record, then stop the servers.
# The exports are left in ./demo-output/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

scripts/install-deps.sh
bold "Building (release)…"
cargo build --release --quiet
BIN="$ROOT/target/release/parsec-sequester"

. scripts/lib-pg.sh
. scripts/lib-garage.sh
WORK=$(mktemp -d /tmp/parsec-sequester-demo.XXXXXX)
cleanup() {
    garage_stop
    pg_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
START=$(date +%s)

bold "Starting a throwaway PostgreSQL (the Parsec server's database)…"
pg_start "$WORK/pg"
export PARSEC_DB="$PG_URL"    # secrets go through the environment, not the command line
BLOCKSTORE=POSTGRESQL
if [ "${DEMO_S3:-auto}" != 0 ] && { [ "${DEMO_S3:-auto}" = 1 ] || [ -x "$(garage_bin)" ]; }; then
    bold "Starting a throwaway Garage S3 store for the blocks…"
    garage_start "$WORK/garage" parsec-blocks
    BLOCKSTORE="$GARAGE_BLOCKSTORE"
fi
export PARSEC_BLOCKSTORE="$BLOCKSTORE"

bold "Generating a sequestered organization (users, realms, vlobs, blocks)…"
"$BIN" testbed populate --create-schema --organization DemoOrg --sequestered \
    --realms 3 --vlobs-per-realm 400 --blocks-per-realm 1200 --block-size-min 64KiB --block-size-max 512KiB \
    -b "$BLOCKSTORE" --keys-dir "$WORK/keys" | tee "$WORK/populate.txt"
REALM1=$(awk '/realm /{print $2}' "$WORK/populate.txt" | sed -n 1p)
REALM2=$(awk '/realm /{print $2}' "$WORK/populate.txt" | sed -n 2p)

bold "parsec-sequester realms --organization DemoOrg"
"$BIN" realms --organization DemoOrg

bold "parsec-sequester human-accesses --organization DemoOrg --query example.com  (first lines)"
"$BIN" human-accesses --organization DemoOrg --query example.com | head -n 25

OUT="$ROOT/demo-output/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
bold "Exporting realm $REALM1"
"$BIN" export-realm --organization DemoOrg --realm "$REALM1" "$OUT"

bold "Exporting realm $REALM2, interrupted (Ctrl-C) halfway through the block data…"
FILE2="$OUT/realm2.sqlite"
"$BIN" export-realm --organization DemoOrg --realm "$REALM2" --jobs 4 "$FILE2" 2> "$WORK/interrupted.log" &
PID=$!
for _ in $(seq 600); do grep -q "4/4" "$WORK/interrupted.log" 2>/dev/null && break; sleep 0.05; done
sleep 0.7
kill -INT "$PID" 2>/dev/null || true
set +e; wait "$PID"; CODE=$?; set -e
sed 's/\r/\n/g' "$WORK/interrupted.log" | grep -v '^\s*$' | tail -n 4
echo "(exit code $CODE)"

bold "Running the same command again: it resumes where it stopped"
"$BIN" export-realm --organization DemoOrg --realm "$REALM2" --jobs 4 "$FILE2"

bold "Running it once more: the export is complete, nothing is written"
"$BIN" export-realm --organization DemoOrg --realm "$REALM2" "$FILE2" | head -n 1

bold "Verifying the interrupted-and-resumed export against its source, every block, with its digest"
"$BIN" verify --digest --against-db --all-blocks "$FILE2"
bold "Verifying the other export"
"$BIN" verify "$OUT"/parsec-export-*.sqlite | tail -n 4

bold "Extracting realm $REALM1's files with a sequester service's key (no Parsec client)"
RECORD="$WORK/keys/DemoOrg/record.json"
KEY=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["services"][-1]["key_file"])' "$RECORD")
set +e
"$BIN" extract "$OUT"/parsec-export-*.sqlite --key "$WORK/keys/DemoOrg/$KEY" "$WORK/extracted" | tail -n 4
CODE=$?
set -e
echo "(exit code $CODE: 0 complete, 3 partial)"
bold "Comparing the extracted files with what the generator recorded"
python3 - "$RECORD" "$WORK/extracted" "$REALM1" <<'PY'
import hashlib, json, sys
record, out, realm = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
report = json.load(open(out + "/report.json"))
versions = {(v["vlob_id"], x["version"]): x for r in record["realms"] if r["realm_id"] == realm
            for v in r["vlobs"] for x in v["versions"]}
checked = 0
for e in report["entries"]:
    if e["type"] != "file" or not e.get("written"):
        continue
    expected = versions[(e["vlob_id"], e["version"])]["sha256"]
    data = open(out + "/" + e["written"], "rb").read()
    assert hashlib.sha256(data).hexdigest() == expected == e["sha256"], e["paths"]
    checked += 1
print(f"{checked} files equal the generator's record; {len(report['failures'])} failure(s) reported")
PY

bold "Done in $(( $(date +%s) - START )) s after the build. The exports are in $OUT:"
ls -l "$OUT"
