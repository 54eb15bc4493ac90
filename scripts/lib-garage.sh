# Sourced by the demo and the benchmarks: a throwaway single-node Garage (S3) on 127.0.0.1.
# garage_start DIR BUCKET → sets GARAGE_S3_PORT, GARAGE_KEY_ID, GARAGE_SECRET, GARAGE_BLOCKSTORE;
# garage_stop stops it.

garage_bin() {
    if command -v garage >/dev/null 2>&1; then command -v garage; else echo "$HOME/.cargo/bin/garage"; fi
}

garage_start() {
    GARAGE_DIR="$1"
    local bucket="$2" rpc admin
    mkdir -p "$GARAGE_DIR"
    GARAGE_S3_PORT=$(free_port); rpc=$(free_port); admin=$(free_port)
    cat > "$GARAGE_DIR/garage.toml" <<CONF
metadata_dir = "$GARAGE_DIR/meta"
data_dir = "$GARAGE_DIR/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$GARAGE_S3_PORT"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CONF
    local g="$(garage_bin) -c $GARAGE_DIR/garage.toml"
    RUST_LOG=warn $(garage_bin) -c "$GARAGE_DIR/garage.toml" server > "$GARAGE_DIR/server.log" 2>&1 &
    GARAGE_PID=$!
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$rpc) 2>/dev/null && break; sleep 0.1; done
    local node
    node=$($g node id -q | cut -d@ -f1)
    $g layout assign -z dc1 -c 1G "$node" >/dev/null
    $g layout apply --version 1 >/dev/null
    local key
    key=$($g key create bench-key)
    GARAGE_KEY_ID=$(echo "$key" | awk -F': *' '/Key ID/{print $2}')
    GARAGE_SECRET=$(echo "$key" | awk -F': *' '/Secret key/{print $2}')
    $g bucket create "$bucket" >/dev/null
    $g bucket allow --read --write --owner "$bucket" --key bench-key >/dev/null
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$GARAGE_S3_PORT) 2>/dev/null && break; sleep 0.1; done
    GARAGE_BLOCKSTORE="s3:http\\://127.0.0.1\\:$GARAGE_S3_PORT:garage:$bucket:$GARAGE_KEY_ID:$GARAGE_SECRET"
}

garage_stop() {
    [ -n "${GARAGE_PID:-}" ] && kill "$GARAGE_PID" 2>/dev/null && wait "$GARAGE_PID" 2>/dev/null || true
}
