#!/usr/bin/env bash
# Usage: scripts/bench orders [--quick] [--rounds N] [--seconds S]
#
# One account's order path through REST against PostgreSQL's own speed, in
# one run (the order-path goal: at least pgbench's tps for one account):
#   1. builds the gateway and the order-path services in Release into
#      build-bench/;
#   2. starts the servers (those started here are stopped at exit), one
#      market-data (simulated DAX quotes), risk-management,
#      trading-execution, position-management and a gateway
#      (GATEWAY_RATE_LIMIT=1000000: the limiter runs but never refuses);
#   3. creates an admin key and an account whose risk limits allow the load
#      (max_orders_per_sec and max_open_orders 2000000000);
#   4. round after round, for 1 and 8 connections: wrk POSTs market IOC
#      orders of qty 1 to /v1/orders (each answered once recorded in
#      PostgreSQL), then pgbench -N (its simple-update transactions, without
#      the branch and teller updates) with as many clients on a scratch
#      database of the same server;
#   5. prints the median orders/s and p50/p99 of each row beside pgbench's
#      median tps, and the ratio (median of per-round ratios).
# Everything it starts is stopped at exit. Never run by scripts/test.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd -P)/lib.sh"

rounds=3 seconds=5
while (($#)); do
    case "$1" in
    --quick) rounds=2 seconds=3 ;;
    --rounds | --seconds)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || tb_die "$1 needs a positive number"
        declare "${1#--}=$2"
        shift
        ;;
    *) tb_die "orders: unknown argument '$1'" ;;
    esac
    shift
done
cd "$TB_ROOT"
export TB_BUILD_DIR=$TB_ROOT/build-bench
B=$TB_BUILD_DIR

# shellcheck source=wrk_lib.sh
source "$TB_ROOT/bench/wrk_lib.sh"

tb_info "setup (packages, wrk among them)"
"$TB_SCRIPTS/setup" >&2 || tb_die "scripts/setup failed"
command -v wrk >/dev/null || tb_die "wrk is not installed"
PGBENCH=/usr/lib/postgresql/15/bin/pgbench
[[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench || true)
[[ -n $PGBENCH ]] || tb_die "pgbench is not installed"
tb_info "build-bench/ (Release: gateway and the order path)"
{ cmake -S "$TB_ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release >&2 &&
    cmake --build "$B" -j "$(tb_nproc)" --target tb-gateway tb-market-data \
        tb-risk-management tb-trading-execution tb-position-management >&2; } ||
    tb_die "the Release build failed"

"$TB_SCRIPTS/servers" status --quiet || started_servers=1
"$TB_SCRIPTS/servers" start >&2 || tb_die "could not start the servers"
eval "$("$TB_SCRIPTS/env")"
export NATS_URL DATABASE_URL REDIS_URL
"$TB_SCRIPTS/migrate" >&2 || tb_die "migrations failed"
tb_ensure_data_dir
work=$TB_DATA/bench-orders
mkdir -p "$work"


gw_port=$(free_port)
start market-data env MD_MODE=sim MD_SYMBOLS=DAX:16000 MD_RATE=20 \
    "$B/actors/market-data/tb-market-data"
start risk-management "$B/actors/risk-management/tb-risk-management"
start trading-execution "$B/actors/trading-execution/tb-trading-execution"
start position-management "$B/actors/position-management/tb-position-management"
start gateway env GATEWAY_PORT="$gw_port" GATEWAY_RATE_LIMIT=1000000 "$B/gateway/tb-gateway"
GW=http://127.0.0.1:$gw_port
tb_wait_for 30 tb_port_open "$gw_port" || tb_die "the gateway did not start ($work/gateway.log)"
key=$("$B/gateway/tb-gateway" --create-admin-key --name bench-orders 2>/dev/null) ||
    tb_die "cannot create a key"
account=BO$(printf '%05d' $((RANDOM * 3 % 100000)))
tb_http POST "$GW/v1/accounts" \
    "{\"account\":\"$account\",\"name\":\"order bench\",\"initial_cash\":\"1000000000\"}" "$key"
[[ $TB_HTTP_STATUS == 20? ]] || tb_die "POST /v1/accounts: HTTP $TB_HTTP_STATUS $TB_HTTP_BODY"
tb_http PUT "$GW/v1/risk/limits/$account" \
    "{\"account\":\"$account\",\"max_open_orders\":2000000000,\"max_orders_per_sec\":2000000000,\"max_position_qty\":\"1000000000\",\"max_gross_exposure\":\"50000000000\",\"max_order_notional\":\"1000000000\"}" "$key"
[[ $TB_HTTP_STATUS == 200 ]] || tb_die "PUT /v1/risk/limits: HTTP $TB_HTTP_STATUS $TB_HTTP_BODY"
body="{\"account\":\"$account\",\"symbol\":\"DAX\",\"side\":\"buy\",\"type\":\"market\",\"tif\":\"ioc\",\"qty\":\"1\"}"
order_ok() {
    tb_http POST "$GW/v1/orders" "$body" "$key"
    [[ $TB_HTTP_STATUS == 200 ]]
}
tb_wait_for 30 order_ok || tb_die "POST /v1/orders: HTTP $TB_HTTP_STATUS $TB_HTTP_BODY"
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
EOF

# pgbench on a scratch database of the same server.
pgdb=tb_pgbench
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true
psql "$DATABASE_URL" -qc "CREATE DATABASE $pgdb" >/dev/null || tb_die "cannot create $pgdb"
PGURL=${DATABASE_URL%/*}/$pgdb
"$PGBENCH" -i -q -s 1 "$PGURL" >"$work/pgbench-init.log" 2>&1 || tb_die "pgbench -i failed"


CLIENTS=(1 8)
declare -A RPS P50 P99 TPS RATIO ERR
for ((r = 1; r <= rounds; r++)); do
    tb_info "round $r of $rounds"
    for c in "${CLIENTS[@]}"; do
        out=$(wrk -t1 -c"$c" -d"${seconds}s" --latency -s "$work/post.lua" "$GW/v1/orders")
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        RPS[$c]+="$rps "
        P50[$c]+="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")") "
        P99[$c]+="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")") "
        ERR[$c]=$((${ERR[$c]:-0} + $(awk '/Non-2xx/ {n += $NF} END {print n + 0}' <<<"$out")))
        tps=$("$PGBENCH" -N -n -c "$c" -j "$c" -T "$seconds" "$PGURL" 2>/dev/null |
            awk '/^tps/ {print $3; exit}')
        TPS[$c]+="$tps "
        RATIO[$c]+="$(awk -v a="$rps" -v b="$tps" 'BEGIN { if (b > 0) printf "%.3f", a / b }') "
    done
done
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
printf 'tradebus order-path benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf 'machine:  %s CPUs (nproc), %s\n' "$(tb_nproc)" "${cpu:-unknown CPU}"
printf 'load:     %s (before the report)\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)"
printf 'commit:   %s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with local changes)')"
printf 'load:     wrk POST /v1/orders (market IOC, qty 1, one account), %s s per row, %s rounds\n\n' \
    "$seconds" "$rounds"
printf '%-8s %10s %9s %9s %14s %9s %7s\n' clients orders/s p50_ms p99_ms pgbench_-N_tps x_pgbench non2xx
for c in "${CLIENTS[@]}"; do
    printf '%-8s %10.0f %9.2f %9.2f %14.0f %9.3f %7s\n' "$c" \
        "$(median <<<"${RPS[$c]}")" "$(median <<<"${P50[$c]}")" "$(median <<<"${P99[$c]}")" \
        "$(median <<<"${TPS[$c]}")" "$(median <<<"${RATIO[$c]}")" "${ERR[$c]}"
done
printf '\norders/s: answered POST /v1/orders (the order committed in PostgreSQL, then\n'
printf 'replied); x_pgbench: median over the rounds of orders/s / pgbench tps of the\n'
printf 'same round with as many clients.\n'
