#!/usr/bin/env bash
# Block-data export from S3 (Garage) against `rclone copy` of the same objects to a local
# directory with the same parallelism, in the same run.
#   bench/export-s3.sh BLOCKS BLOCK_MIN BLOCK_MAX JOBS
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
ROOT=$PWD
BLOCKS=${1:-2000}; BMIN=${2:-64KiB}; BMAX=${3:-512KiB}; JOBS=${4:-32}
command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone >/dev/null; }
cargo build --release --quiet
BIN="$ROOT/target/release/parsec-sequester"
. scripts/lib-pg.sh
. scripts/lib-garage.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench-s3.XXXXXX)
trap 'garage_stop; pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"
garage_start "$WORK/garage" blocks

"$BIN" testbed populate --db "$PG_URL" --create-schema --organization BenchOrg --realms 1 \
    --vlobs-per-realm 100 --blocks-per-realm "$BLOCKS" --block-size-min "$BMIN" --block-size-max "$BMAX" \
    --blockstore "$GARAGE_BLOCKSTORE" > "$WORK/populate.txt"
REALM=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")
BYTES=$(psql "$PG_URL" -Atc "SELECT SUM(size) FROM block")
echo "data: $BLOCKS blocks, $BYTES bytes in Garage; --jobs $JOBS"

/usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" export-realm --quiet --db "$PG_URL" -b "$GARAGE_BLOCKSTORE" \
    --organization BenchOrg --realm "$REALM" --jobs "$JOBS" "$WORK/out.sqlite" > /dev/null
read -r T_EXPORT RSS < "$WORK/time"

cat > "$WORK/rclone.conf" <<CONF
[g]
type = s3
provider = Other
endpoint = http://127.0.0.1:$GARAGE_S3_PORT
region = garage
access_key_id = $GARAGE_KEY_ID
secret_access_key = $GARAGE_SECRET
force_path_style = true
CONF
start=$(date +%s.%N)
env -u AWS_CA_BUNDLE rclone --config "$WORK/rclone.conf" copy g:blocks "$WORK/rclone-out" --transfers "$JOBS" --checkers "$JOBS" >/dev/null 2>&1
T_RCLONE=$(echo "$(date +%s.%N) - $start" | bc)
echo "export-realm (whole export, S3 blocks): $T_EXPORT s, $(echo "scale=1; $BYTES / $T_EXPORT / 1048576" | bc) MiB/s, peak RSS $RSS KiB"
echo "rclone copy to a local dir:             $T_RCLONE s, $(echo "scale=1; $BYTES / $T_RCLONE / 1048576" | bc) MiB/s"
echo "ratio export / rclone: $(echo "scale=2; $T_EXPORT / $T_RCLONE" | bc)"
