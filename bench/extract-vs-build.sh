#!/usr/bin/env bash
# `extract --list --history` (MODE=history, the default) or `extract --list` (MODE=tree): CPU
# only, no files written; this build against another build of the tool, on the same generated
# sequestered realm: interleaved, the order alternating round after round, after one untimed
# run of each, `sync` before each run, load average recorded; prints each run, then the median
# of the per-round ratios (this build / other) with min-max.
#   [MODE=tree] bench/extract-vs-build.sh OTHER_BINARY [VLOBS] [ROUNDS]    default: 80000 5
# Run it when nothing else runs (no build, no test suite).
set -euo pipefail
cd "$(dirname "$0")/.."
OTHER=$(realpath "$1"); VLOBS=${2:-80000}; ROUNDS=${3:-5}; MODE=${MODE:-history}
case "$MODE" in
    history) ARGS=(--list --history) ;;
    tree) ARGS=(--list) ;;
    *) echo "MODE is history or tree, not $MODE" >&2; exit 2 ;;
esac
scripts/install-deps.sh >/dev/null
cargo build --release --quiet
BIN="$PWD/target/release/parsec-sequester"
. scripts/lib-pg.sh
. bench/lib-sequestered.sh
WORK=$(mktemp -d /tmp/parsec-sequester-bench-vs.XXXXXX)
trap 'pg_stop; rm -rf "$WORK"' EXIT
pg_start "$WORK/pg"
sequestered_export "$VLOBS" 200 16KiB 16KiB --sequester-key-bits 1024
pg_stop
echo "# $(date -u +%FT%TZ) $(nproc) cores; extract ${ARGS[*]}; $VLOBS vlob versions; this: $BIN; other: $OTHER"
timed() { # LABEL BINARY: prints the run, returns its wall time in $T
    sync
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/t" "$2" extract "$WORK/export.sqlite" --key "$KEY" \
        "${ARGS[@]}" > /dev/null 2>&1 || [ $? -eq 3 ]
    read -r T user sys kib < "$WORK/t"
    echo "  $1: ${T} s (cpu ${user}u+${sys}s, peak RSS $(( kib / 1024 )) MiB, load before $load)"
}
# One untimed run of each first: the first reading of the fresh export is from the disk.
for b in "$OTHER" "$BIN"; do
    "$b" extract "$WORK/export.sqlite" --key "$KEY" "${ARGS[@]}" > /dev/null 2>&1 || [ $? -eq 3 ]
done
ratios=()
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r"
    if [ $((r % 2)) -eq 1 ]; then timed other "$OTHER"; o=$T; timed this "$BIN"; t=$T
    else timed this "$BIN"; t=$T; timed other "$OTHER"; o=$T; fi
    ratios+=("$(python3 -c "print($t / $o)")")
done
python3 - "${ratios[@]}" <<'PY'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
print(f"this / other: median {statistics.median(r):.2f} (min {r[0]:.2f}, max {r[-1]:.2f}, {len(r)} rounds); load after {open('/proc/loadavg').read().split()[0]}")
PY
