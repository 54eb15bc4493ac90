#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, in one run, on the same data:
#   bench/run.sh [SCALES…]       default: 1 4 16 (16× needs ~20 GiB free on /tmp)
# For each scale (base: 2 000 blocks of 16 KiB..512 KiB ≈ 512 MiB, 25 000 vlob versions):
# export wall time, throughput and peak RSS; the read limit (COPY … TO /dev/null, binary)
# and the write limit (bench/limits.py); resume overhead after kills; --jobs and
# --buffer-size effects (at 1× only). Raw figures go to bench/results/<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
command -v bc >/dev/null || { apt-get update -qq && apt-get install -y -qq bc >/dev/null; }
ROOT=$PWD
SCALES=${*:-1 4 16}
cargo build --release --quiet
BIN="$ROOT/target/release/parsec-sequester"
. scripts/lib-pg.sh
mkdir -p bench/results
RESULTS="bench/results/$(date -u +%Y%m%dT%H%M%SZ).txt"
say() { echo "$*" | tee -a "$RESULTS"; }
say "# $(date -u) — $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB RAM, $(uname -r)"

measure_export() { # label extra-args… → prints "label wall rss"
    local label=$1; shift
    rm -f "$WORK/out.sqlite"
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" export-realm --quiet -b POSTGRESQL \
        --organization BenchOrg --realm "$REALM" "$WORK/out.sqlite" "$@" > "$WORK/summary.txt"
    read -r wall rss < "$WORK/time"
    say "$label: wall ${wall} s, $(echo "scale=1; $BYTES / $wall / 1048576" | bc) MiB/s, peak RSS $((rss / 1024)) MiB"
    LAST_WALL=$wall
}

for scale in $SCALES; do
    # The database and the export each take about the data's size (≈ 0.6 GB per scale unit).
    need_gb=$((scale * 13 / 10 + 2))
    free_gb=$(df -BG --output=avail /tmp | tail -n 1 | tr -dc 0-9)
    if [ "$free_gb" -lt "$need_gb" ]; then
        say "## scale ${scale}×: skipped, needs about ${need_gb} GiB free in /tmp, ${free_gb} GiB available"
        continue
    fi
    WORK=$(mktemp -d /tmp/parsec-sequester-bench.XXXXXX)
    trap 'pg_stop; rm -rf "$WORK"' EXIT
    pg_start "$WORK/pg"
    export PARSEC_DB="$PG_URL"
    start=$(date +%s.%N)
    "$BIN" testbed populate --create-schema --organization BenchOrg --realms 1 \
        --vlobs-per-realm $((25000 * scale)) --blocks-per-realm $((2000 * scale)) \
        --block-size-min 16KiB --block-size-max 512KiB > "$WORK/populate.txt"
    REALM=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")
    BYTES=$(psql "$PG_URL" -Atc "SELECT (SELECT SUM(size) FROM block) + (SELECT SUM(size) FROM vlob_atom)")
    say ""
    say "## scale ${scale}×: $((2000 * scale)) blocks, $((25000 * scale)) vlob versions, $BYTES bytes (populated in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s)"
    psql "$PG_URL" -Atc "VACUUM ANALYZE" >/dev/null
    # Warm the server's cache the same way for every measurement.
    psql "$PG_URL" -c "\copy (SELECT data FROM block_data) TO /dev/null WITH (FORMAT binary)" >/dev/null
    s=$(date +%s.%N)
    psql "$PG_URL" -c "\copy (SELECT data FROM block_data) TO /dev/null WITH (FORMAT binary)" >/dev/null
    psql "$PG_URL" -c "\copy (SELECT blob FROM vlob_atom) TO /dev/null WITH (FORMAT binary)" >/dev/null
    READ=$(echo "$(date +%s.%N) - $s" | bc | cut -c1-5)
    psql "$PG_URL" -Atc "SELECT size FROM block" > "$WORK/sizes"
    psql "$PG_URL" -Atc "SELECT size FROM vlob_atom" >> "$WORK/sizes"
    WRITE=$(python3 bench/limits.py "$WORK/sizes" "$WORK/raw.sqlite")
    say "limit: read (COPY binary to /dev/null) ${READ} s, write (SQLite, 256 MiB transactions) ${WRITE} s"
    measure_export "export (defaults)"
    LIMIT=$(echo "if ($READ > $WRITE) $READ else $WRITE" | bc)
    say "ratio export / max(read, write) = $(echo "scale=2; $LAST_WALL / $LIMIT" | bc)"
    if [ "$scale" = 1 ] || [ -n "${BENCH_ALL_KNOBS:-}" ]; then
        for jobs in 4 8 16 32 64; do measure_export "  --jobs $jobs" --jobs $jobs; done
        for buf in 16MiB 64MiB 256MiB; do measure_export "  --buffer-size $buf" --buffer-size $buf; done
        for conns in 2 4 8 16; do measure_export "  --db-max-connections $conns" --db-max-connections $conns; done
        # Resume overhead: kill -9 at random points during the block data, then resume.
        rm -f "$WORK/out.sqlite"
        kills=0
        while :; do
            "$BIN" export-realm --quiet -b POSTGRESQL --organization BenchOrg --realm "$REALM" "$WORK/out.sqlite" > "$WORK/summary.txt" 2>/dev/null &
            pid=$!
            sleep "0.$((RANDOM % 9 + 1))"
            if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
            wait $pid 2>/dev/null || true
            [ -f "$WORK/out.sqlite" ] && grep -q "Export complete" "$WORK/summary.txt" && break
            [ $kills -ge 10 ] && break
        done
        s=$(date +%s.%N)
        "$BIN" export-realm -b POSTGRESQL --organization BenchOrg --realm "$REALM" "$WORK/out.sqlite" > "$WORK/summary.txt" 2> "$WORK/resume.log" || true
        say "resume after $kills kill -9: last run $(echo "$(date +%s.%N) - $s" | bc | cut -c1-5) s; $(grep 'fetched by this run' "$WORK/summary.txt" | sed 's/^ *//')"
    fi
    pg_stop
    rm -rf "$WORK"
    trap - EXIT
done
echo "results in $RESULTS"
