#!/usr/bin/env bash
# S3-store export (Garage on loopback) against `rclone copy` of the same objects to a local
# directory with the same parallelism, interleaved in the same run (bench/paired.py):
#   bench/s3-paired.sh [BLOCKS] [BLOCK_MIN] [BLOCK_MAX] [JOBS] [ROUNDS] [DELAY_MS]
#   default: 2000 64KiB 512KiB 32 3 0
# DELAY_MS > 0 puts bench/delay-proxy.py in front of Garage for both commands (a remote store).
# Run it on a quiet machine: rounds that start while something else uses the CPU are flagged.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone >/dev/null; }
BLOCKS=${1:-2000}; BMIN=${2:-64KiB}; BMAX=${3:-512KiB}; JOBS=${4:-32}; ROUNDS=${5:-3}; DELAY=${6:-0}
cargo build --release --quiet
BIN="$PWD/target/release/parsec-sequester"
. scripts/lib-pg.sh
. scripts/lib-garage.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench-s3.XXXXXX)
PROXY_PID=""
trap '[ -n "$PROXY_PID" ] && kill $PROXY_PID 2>/dev/null; garage_stop; pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"
garage_start "$WORK/garage" blocks
"$BIN" testbed populate --db "$PG_URL" --create-schema --organization BenchOrg --realms 1 \
    --vlobs-per-realm 100 --blocks-per-realm "$BLOCKS" --block-size-min "$BMIN" --block-size-max "$BMAX" \
    --blockstore "$GARAGE_BLOCKSTORE" > "$WORK/populate.txt"
REALM=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")
PORT=$GARAGE_S3_PORT
if [ "$DELAY" != 0 ]; then
    PORT=$(free_port)
    python3 bench/delay-proxy.py "$PORT" 127.0.0.1 "$GARAGE_S3_PORT" "$DELAY" &
    PROXY_PID=$!
    for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
fi
STORE="s3:http\\://127.0.0.1\\:$PORT:garage:blocks:$GARAGE_KEY_ID:$GARAGE_SECRET"
cat > "$WORK/rclone.conf" <<CONF
[g]
type = s3
provider = Other
endpoint = http://127.0.0.1:$PORT
region = garage
access_key_id = $GARAGE_KEY_ID
secret_access_key = $GARAGE_SECRET
force_path_style = true
CONF
echo "# $(date -u +%FT%TZ) $(nproc) cores; $BLOCKS blocks of $BMIN-$BMAX in Garage," \
    "$(psql "$PG_URL" -Atc "SELECT pg_size_pretty(SUM(size)) FROM block"); --jobs $JOBS; added latency ${DELAY} ms"
# rclone lists the bucket then copies; the export reads the metadata from PostgreSQL then copies.
python3 bench/paired.py --rounds "$ROUNDS" --log "$WORK/log" \
    --limit "rclone=rm -rf '$WORK/rclone-out'; env -u AWS_CA_BUNDLE rclone --config '$WORK/rclone.conf' copy g:blocks '$WORK/rclone-out' --transfers $JOBS --checkers $JOBS" \
    --subject "export=rm -f '$WORK/out.sqlite'; '$BIN' export-realm --quiet --db '$PG_URL' -b '$STORE' --organization BenchOrg --realm $REALM --jobs $JOBS '$WORK/out.sqlite'"
