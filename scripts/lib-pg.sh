# Sourced by the demo and the benchmarks: a throwaway PostgreSQL cluster on 127.0.0.1.
# pg_start DIR  → sets PG_URL (database "postgres"), PG_DIR; pg_stop stops it.
# Runs the server as `nobody` when we are root (initdb refuses root).

pg_bin() {
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else ls /usr/lib/postgresql/*/bin/"$1" | sort | tail -n 1; fi
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432
}

pg_start() {
    PG_DIR="$1"
    mkdir -p "$PG_DIR"
    # The server user must reach its directory.
    chmod a+x "$(dirname "$PG_DIR")"
    [ "$(id -u)" -eq 0 ] && chown nobody "$PG_DIR"
    local port
    port=$(free_port)
    as_pg "$(pg_bin initdb)" -D "$PG_DIR/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    as_pg "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
        -o "-k $PG_DIR -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=256MB" start >/dev/null
    PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] && as_pg "$(pg_bin pg_ctl)" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
}
