#!/usr/bin/env bash
# Usage: scripts/bench orders [--quick] [--rounds N] [--seconds S] [--rate R] [--rate-seconds S]
#
# One account's order path through REST against PostgreSQL's own speed, in
# one run (the order-path goal: at least pgbench's tps for one account):
#   1. builds the gateway and the order-path services in Release into
#      build-bench/;
#   2. starts the servers (those started here are stopped at exit), a
#      database of its own (tradebus_orders_<run>, dropped at exit), one
#      market-data (simulated DAX quotes), risk-management,
#      trading-execution, position-management and a gateway
#      (GATEWAY_RATE_LIMIT=1000000: the limiter runs but never refuses;
#      GATEWAY_MAX_CONN_PER_ADDR=256: the fixed-rate row is one address);
#   3. creates an admin key and an account whose risk limits allow the load
#      (max_orders_per_sec and max_open_orders 2000000000);
#   4. round after round, for 1 and 8 connections on one account and for 8
#      connections spread over 8 accounts: wrk POSTs market IOC orders of
#      qty 1 to /v1/orders (each answered once recorded in PostgreSQL), then
#      pgbench -N (its simple-update transactions, without the branch and
#      teller updates) with as many clients on a scratch database of the same
#      server;
#   5. offers a fixed rate (--rate, default 1,000 orders/s, for --rate-seconds,
#      default 10) to one account with tb-bench-order-rate: REST latency and
#      the latency from each POST to the pos.update that books its fill;
#   6. prints the median orders/s and p50/p99 of each row beside pgbench's
#      median tps, and the ratio (median of per-round ratios), the CPU time
#      per answered order of every process started here and of PostgreSQL
#      (read from /proc over each wrk window), then the fixed-rate row.
# Everything it starts is stopped at exit. Never run by scripts/test.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd -P)/lib.sh"

rounds=3 seconds=5 rate=1000 rate_seconds=10
while (($#)); do
    case "$1" in
    --quick) rounds=2 seconds=3 rate_seconds=5 ;;
    --rounds | --seconds | --rate | --rate-seconds)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || tb_die "$1 needs a positive number"
        v=${1#--}
        declare "${v//-/_}=$2"
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
        tb-risk-management tb-trading-execution tb-position-management \
        tb-bench-order-rate >&2; } ||
    tb_die "the Release build failed"

run=BO$(printf '%05d' $((RANDOM * 3 % 100000)))
bench_database "tradebus_orders_${run,,}"
"$TB_SCRIPTS/servers" status --quiet || started_servers=1
"$TB_SCRIPTS/servers" start >&2 || tb_die "could not start the servers"
eval "$("$TB_SCRIPTS/env")"
export NATS_URL DATABASE_URL REDIS_URL
"$TB_SCRIPTS/migrate" >&2 || tb_die "migrations failed"
tb_ensure_data_dir
tb_pg_resolve
work=$TB_DATA/bench-orders
mkdir -p "$work"


gw_port=$(free_port)
start market-data env MD_MODE=sim MD_SYMBOLS=DAX:16000 MD_RATE=20 \
    "$B/actors/market-data/tb-market-data"
start risk-management "$B/actors/risk-management/tb-risk-management"
start trading-execution "$B/actors/trading-execution/tb-trading-execution"
start position-management "$B/actors/position-management/tb-position-management"
start gateway env GATEWAY_PORT="$gw_port" GATEWAY_RATE_LIMIT=1000000 GATEWAY_MAX_CONN_PER_ADDR=256 "$B/gateway/tb-gateway"
GW=http://127.0.0.1:$gw_port
tb_wait_for 30 tb_port_open "$gw_port" || tb_die "the gateway did not start ($work/gateway.log)"
key=$("$B/gateway/tb-gateway" --create-admin-key --name bench-orders 2>/dev/null) ||
    tb_die "cannot create a key"
# make_account NAME: an account funded and with limits that allow the load.
make_account() {
    tb_http POST "$GW/v1/accounts" \
        "{\"account\":\"$1\",\"name\":\"order bench\",\"initial_cash\":\"1000000000\"}" "$key"
    [[ $TB_HTTP_STATUS == 20? ]] || tb_die "POST /v1/accounts: HTTP $TB_HTTP_STATUS $TB_HTTP_BODY"
    tb_http PUT "$GW/v1/risk/limits/$1" \
        "{\"account\":\"$1\",\"max_open_orders\":2000000000,\"max_orders_per_sec\":2000000000,\"max_position_qty\":\"1000000000\",\"max_gross_exposure\":\"50000000000\",\"max_order_notional\":\"1000000000\"}" "$key"
    [[ $TB_HTTP_STATUS == 200 ]] || tb_die "PUT /v1/risk/limits: HTTP $TB_HTTP_STATUS $TB_HTTP_BODY"
}
account=$run
make_account "$account"
for i in 1 2 3 4 5 6 7 8; do make_account "$run-$i"; done
rate_account=$run-rate
make_account "$rate_account"
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
# 8 accounts: each request names the next account, round robin.
{
    cat "$work/post.lua"
    printf 'local bodies = {'
    for i in 1 2 3 4 5 6 7 8; do printf "'%s'," "${body//\"$account\"/\"$run-$i\"}"; done
    printf '}\nlocal i = 0\nrequest = function()\n    i = i + 1\n'
    printf '    return wrk.format(nil, nil, nil, bodies[i %% 8 + 1])\nend\n'
} >"$work/post8.lua"

# pgbench on a scratch database of the same server.
pgdb=tb_pgbench
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true
psql "$DATABASE_URL" -qc "CREATE DATABASE $pgdb" >/dev/null || tb_die "cannot create $pgdb"
PGURL=${DATABASE_URL%/*}/$pgdb
"$PGBENCH" -i -q -s 1 "$PGURL" >"$work/pgbench-init.log" 2>&1 || tb_die "pgbench -i failed"


# What the processes spend with no order coming (market-data's simulated
# feed marks positions, timers): taken off each round's CPU per order.
idle=$(cpu_idle_rate 3)

# Rows: one account from 1 and 8 clients, 8 accounts from 8 clients.
ROWS=(1 8 8:8acct)
declare -A RPS P50 P99 TPS RATIO ERR CPU
for ((r = 1; r <= rounds; r++)); do
    tb_info "round $r of $rounds"
    for row in "${ROWS[@]}"; do
        c=${row%%:*}
        script=$work/post.lua
        [[ $row == *8acct ]] && script=$work/post8.lua
        cpu0=$(cpu_snapshot)
        t0=$(date +%s%N)
        out=$(wrk -t1 -c"$c" -d"${seconds}s" --latency -s "$script" "$GW/v1/orders")
        # Orders answered in the window; the snapshot after it also counts
        # what the services still did for them (fills, booking) once quiet.
        answered=$(awk '/ requests in / {r = $1} /Non-2xx/ {e = $NF} END {print r - e}' <<<"$out")
        sleep 1
        cpu1=$(cpu_snapshot)
        window=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        while read -r name ms; do
            CPU[$row|$name]+="$ms "
        done < <(cpu_per "$cpu0" "$cpu1" "$answered" "$idle" "$window")
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        RPS[$row]+="$rps "
        P50[$row]+="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")") "
        P99[$row]+="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")") "
        ERR[$row]=$((${ERR[$row]:-0} + $(awk '/Non-2xx/ {n += $NF} END {print n + 0}' <<<"$out")))
        tps=$("$PGBENCH" -N -n -c "$c" -j "$c" -T "$seconds" "$PGURL" 2>/dev/null |
            awk '/^tps/ {print $3; exit}')
        TPS[$row]+="$tps "
        RATIO[$row]+="$(awk -v a="$rps" -v b="$tps" 'BEGIN { if (b > 0) printf "%.3f", a / b }') "
    done
done
psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true

tb_info "fixed rate: $rate orders/s for $rate_seconds s"
fixed=$("$B/bench/tb-bench-order-rate" "$GW" "$key" "$rate_account" DAX "$rate" "$rate_seconds") ||
    tb_warn "tb-bench-order-rate did not complete"
val() { awk -v k="$1" '$1 == k {print $2; exit}' <<<"$fixed"; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
printf 'tradebus order-path benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf 'machine:  %s CPUs (nproc), %s\n' "$(tb_nproc)" "${cpu:-unknown CPU}"
printf 'load:     %s (before the report)\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)"
printf 'commit:   %s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with local changes)')"
printf 'load:     wrk POST /v1/orders (market IOC, qty 1, one account), %s s per row, %s rounds\n\n' \
    "$seconds" "$rounds"
printf '%-16s %10s %9s %9s %14s %9s %7s %9s %8s\n' clients orders/s p50_ms p99_ms pgbench_-N_tps \
    x_pgbench non2xx cpu_ms pg_ms
for row in "${ROWS[@]}"; do
    label="$row x 1 account"
    [[ $row == *8acct ]] && label="8 x 8 accounts"
    printf '%-16s %10.0f %9.2f %9.2f %14.0f %9.3f %7s %9.3f %8.3f\n' "$label" \
        "$(median <<<"${RPS[$row]}")" "$(median <<<"${P50[$row]}")" "$(median <<<"${P99[$row]}")" \
        "$(median <<<"${TPS[$row]}")" "$(median <<<"${RATIO[$row]}")" "${ERR[$row]}" \
        "$(median <<<"${CPU[$row|all]}")" "$(median <<<"${CPU[$row|postgresql]}")"
done
printf '\nCPU ms per order by process (median over the rounds):\n'
printf '  %-16s' clients "${names[@]}" postgresql nats-server redis
printf '\n'
for row in "${ROWS[@]}"; do
    label="$row x 1 account"
    [[ $row == *8acct ]] && label="8 x 8 accounts"
    printf '  %-16s' "$label"
    for name in "${names[@]}" postgresql nats-server redis; do printf '  %-14.3f' "$(median <<<"${CPU[$row|$name]}")"; done
    printf '\n'
done
printf '\nfixed rate, one account: offered %s orders/s for %s s (%s orders), achieved %s/s, %s non-2xx, %s sent late (>1 ms)\n' \
    "$rate" "$rate_seconds" "$(val offered)" "$(val achieved_rate)" "$(val non2xx)" "$(val late_sends)"
codes=$(awk '$1 ~ /^http_/ {sub(/^http_/, "", $1); printf "%s%s x %s", sep, $2, $1; sep = ", "}' <<<"$fixed")
[[ -z $codes ]] || printf '  non-2xx answers: %s\n' "$codes"
printf '  REST (due -> answer):        p50 %s ms  p99 %s ms   (goal: p99 <= 5 ms)\n' \
    "$(val rest_p50_ms)" "$(val rest_p99_ms)"
printf '  booked (due -> pos.update):  p50 %s ms  p99 %s ms   (goal: p99 <= 20 ms; %s of %s booked)\n' \
    "$(val booked_p50_ms)" "$(val booked_p99_ms)" "$(val booked)" "$(val ok)"
printf '\norders/s: answered POST /v1/orders (the order committed in PostgreSQL, then\n'
printf 'replied); x_pgbench: median over the rounds of orders/s / pgbench tps of the\n'
printf 'same round with as many clients; cpu_ms, pg_ms: CPU time (user + system) of\n'
printf 'every process started here, PostgreSQL, nats-server and Redis (pg_ms:\n'
printf 'PostgreSQL alone) from the\n'
printf 'start of a round to 1 s after it, less what each spent idle over as long\n'
printf '(measured before the rounds), per answered order: unlike rates, it hardly\n'
printf 'depends on what else the machine runs. Fixed rate: open loop, each order timed\n'
printf 'from the moment it was due, so a slow answer cannot hide the ones queued behind it.\n'
printf 'idle CPU, ms per s: %s\n' "$(tr '\n' ' ' <<<"$idle")"
