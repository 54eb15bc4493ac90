# Sourced by the extract benchmarks, after scripts/lib-pg.sh's pg_start (PG_URL), with BIN and
# WORK set. sequestered_export VLOBS BLOCKS BLOCK_MIN BLOCK_MAX [POPULATE OPTIONS…]: populates one
# sequestered realm of BenchOrg, exports it to $WORK/export.sqlite, and sets KEY to the service
# key that reads every version (the second service: created after the first rotation).
sequestered_export() {
    local vlobs=$1 blocks=$2 bmin=$3 bmax=$4
    shift 4
    "$BIN" testbed populate --db "$PG_URL" --create-schema --organization BenchOrg --sequestered \
        --realms 1 --vlobs-per-realm "$vlobs" --blocks-per-realm "$blocks" --block-size-min "$bmin" \
        --block-size-max "$bmax" --keys-dir "$WORK/keys" "$@" > "$WORK/populate.txt"
    local realm
    realm=$(awk '/realm /{print $2; exit}' "$WORK/populate.txt")
    "$BIN" export-realm --quiet --db "$PG_URL" -b POSTGRESQL --organization BenchOrg --realm "$realm" \
        "$WORK/export.sqlite" > /dev/null
    KEY=$(ls "$WORK"/keys/BenchOrg/sequester-services/*.pem | while read -r k; do
        "$BIN" extract "$WORK/export.sqlite" --key "$k" --list > /dev/null 2>&1 && { echo "$k"; break; }; done)
    [ -n "$KEY" ] || { echo "no service key reads the whole realm" >&2; exit 1; }
}
