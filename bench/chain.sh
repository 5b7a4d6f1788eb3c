#!/usr/bin/env bash
# Usage: scripts/bench chain [--quick] [--max-s S]   (run by scripts/bench)
#
# The end-to-end tick chain benchmark: a replay of 1,000,000 ticks (--quick:
# 100,000) over 4 symbols, one enabled sma_cross strategy per symbol, through
# every service, with 1 and then 3 workers per tick consumer. Steps:
#   1. builds everything in Release into build-bench/;
#   2. starts the servers, and the services with scripts/up (MD_MODE=off, so
#      the replay is the only price source; WORKERS_<consumer>=1, then 3);
#   3. writes the tick CSV (tb-ctl replay --format ticks reads it) with
#      symbols, account and strategies new to this run, so earlier runs'
#      state (indicator windows, positions) does not take part;
#   4. build-bench/bench/tb-bench-chain replays it at speed 0 and times it
#      until every tick consumer finished every tick and the chain is quiet
#      (a consumer still working after --max-s seconds, default 600, --quick
#      90, is reported with its rate so far);
#   5. reads each service's RSS (VmRSS of every instance, summed);
#   6. measures the anchor: the same number of tick-sized messages from a bare
#      nats.c publisher to a bare subscriber, in the same run.
# The services started here are stopped at exit (scripts/down --keep-servers
# semantics); servers started here are stopped too. Never run by scripts/test.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd -P)/lib.sh"

ticks=1000000
max_s=''
while (($#)); do
    case "$1" in
    --quick) ticks=100000 ;;
    --max-s)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || tb_die "--max-s needs a number of seconds"
        max_s=$2
        shift
        ;;
    *) tb_die "chain: unknown argument '$1'" ;;
    esac
    shift
done
[[ -n $max_s ]] || max_s=$((ticks >= 1000000 ? 600 : 90))
CONSUMERS=(signal-processing historical-data trading-execution notifications position-management)
# TB_CHAIN_WORKERS="3" measures only that worker count (profiling one case);
# each count runs on a fresh database of its own.
read -r -a WORKER_SETS <<<"${TB_CHAIN_WORKERS:-1 3}"
cd "$TB_ROOT"
export TB_BUILD_DIR=$TB_ROOT/build-bench
BENCH_BIN=$TB_BUILD_DIR/bench/tb-bench-chain

started_servers=0
chain_db='' # the database of the worker count being measured
# drop_chain_db NAME: drops a database this benchmark made (its services
# gone or moved to the next one; FORCE ends what is still connected).
drop_chain_db() {
    [[ $1 == tradebus_chain* ]] || return 0
    tb_pg_admin_psql -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 ||
        tb_warn "could not drop the database $1"
}
# shellcheck disable=SC2317 # runs from the EXIT trap
on_exit() {
    local rc=$?
    tb_supervisor_stop >&2 2>&1 || tb_warn "could not stop the services (scripts/status)"
    [[ -z $chain_db ]] || drop_chain_db "$chain_db"
    [[ -z $chain_db ]] || redis_flush
    if ((started_servers)); then
        "$TB_SCRIPTS/servers" stop >&2 2>&1 || tb_warn "could not stop the servers"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tb_info "setup (packages)"
"$TB_SCRIPTS/setup" >&2 || tb_die "scripts/setup failed"
tb_info "build-bench/ (Release, every service)"
{ cmake -S "$TB_ROOT" -B "$TB_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >&2 &&
    cmake --build "$TB_BUILD_DIR" -j "$(tb_nproc)" >&2; } || tb_die "the Release build failed"

"$TB_SCRIPTS/servers" status --quiet || started_servers=1
"$TB_SCRIPTS/servers" start >&2 || tb_die "could not start the servers"
eval "$("$TB_SCRIPTS/env")"
export NATS_URL DATABASE_URL REDIS_URL
tb_ensure_data_dir
tb_pg_resolve
work=$TB_DATA/bench
mkdir -p "$work"
export MD_REPLAY_DIR=$work # the replay reads the tick file written here
run=$(printf '%05d' $((RANDOM * 3 % 100000)))
GATEWAY_URL=http://127.0.0.1:${GATEWAY_PORT:-8000}

# write_ticks FILE PREFIX: $ticks rows round-robin over PREFIX{A,B,C,D}, one
# second apart, each symbol on its own deterministic random walk.
write_ticks() {
    awk -v n="$ticks" -v p="$2" 'BEGIN {
        srand(7); split("A B C D", s, " "); px[1] = 16000; px[2] = 11000; px[3] = 7400; px[4] = 7600
        print "ts,symbol,bid,ask,last,size"
        for (i = 0; i < n; i++) {
            k = i % 4 + 1
            px[k] += (rand() - 0.5) * px[k] * 0.002
            if (px[k] < 1) px[k] = 1
            printf "%d000000000,%s%s,%.2f,%.2f,%.2f,%d\n", 1700000000 + i, p, s[k], px[k] - 0.5, px[k] + 0.5, px[k], 1 + i % 10
        }
    }' >"$1"
}

api() { # api METHOD PATH BODY: TB_HTTP_STATUS / TB_HTTP_BODY, with the admin key
    tb_http "$1" "$GATEWAY_URL$2" "${3:-}" "$admin"
}

# count_items: how many items the last api reply (TB_HTTP_BODY, a list page
# {"items": [...], "next": ...}) holds; "N+" when there are more pages, "?"
# when it is not such a page.
count_items() {
    python3 -c 'import json,sys
try:
    v = json.load(sys.stdin)
    print(str(len(v["items"])) + ("+" if v.get("next") else ""))
except Exception:
    print("?")' <<<"$TB_HTTP_BODY"
}

# The goal for every instance's RSS at the end of a run (20 MB).
RSS_GOAL_KB=20000

# rss_of SERVICE: the VmRSS (kB) of its instances, summed, their count and
# the largest instance's.
rss_of() {
    local f pid kb total=0 count=0 max=0
    for f in "$TB_RUN"/services/"$1"-*.pid; do
        [[ -e $f ]] || continue
        read -r pid _ <"$f" || true
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n $kb ]] || continue
        total=$((total + kb)) count=$((count + 1))
        if ((kb > max)); then max=$kb; fi
    done
    printf '%s %s %s' "$total" "$count" "$max"
}

# cpu_snapshot: "NAME JIFFIES" lines, the CPU time (user + system) so far of
# every service (all instances), of nats-server, redis-server, influxd (when
# running) and PostgreSQL (the postmaster and every backend). Differences over a run divided by the
# ticks give CPU per tick: unlike rates, nearly independent of what else the
# machine runs.
cpu_snapshot() {
    local s f pid total
    for s in "${TB_SERVICES[@]}" gateway; do
        total=0
        for f in "$TB_RUN"/services/"$s"-*.pid; do
            [[ -e $f ]] || continue
            read -r pid _ <"$f" || true
            [[ -n $pid ]] && total=$((total + $(tb_proc_jiffies "$pid")))
        done
        printf '%s %s\n' "$s" "$total"
    done
    pid=$(head -n 1 "$TB_DATA/nats/nats-server.pid" 2>/dev/null || true)
    printf 'nats-server %s\n' "$([[ -n $pid ]] && tb_proc_jiffies "$pid" || echo 0)"
    pid=$(head -n 1 "$TB_DATA/redis/redis.pid" 2>/dev/null || true)
    printf 'redis-server %s\n' "$([[ -n $pid ]] && tb_proc_jiffies "$pid" || echo 0)"
    pid=$(head -n 1 "$TB_DATA/influxdb/influxd.pid" 2>/dev/null || true)
    printf 'influxd %s\n' "$([[ -n $pid ]] && tb_proc_jiffies "$pid" || echo 0)"
    printf 'postgresql %s\n' "$(tb_pg_jiffies)"
}

# Every worker count also runs on a Redis database of its own, emptied
# before and after: the services keep a key per signal for a day
# (risk-management's decided-once markers), and a Redis that kept every
# run's (2.1 million keys, 330 MB, in a data folder used for a day of runs)
# snapshotted them during the replays, a fork and its page copies every
# minute: Redis 2.1 to 7.0 ms of CPU per 1,000 ticks between --quick runs of
# one commit. The platform's own database 0 stays as it is.
CHAIN_REDIS_DB=15
redis_flush() {
    redis-cli -h "$TB_HOST" -p "$TB_REDIS_PORT" -n "$CHAIN_REDIS_DB" FLUSHDB >/dev/null 2>&1 ||
        tb_warn "could not empty Redis database $CHAIN_REDIS_DB"
}

# js_backlog: the messages JetStream still holds for a durable consumer
# (pending and delivered but unacknowledged, all consumers summed), from the
# monitoring endpoint; "?" when it cannot be read.
js_backlog() {
    curl -fsS --max-time 5 "http://$TB_HOST:$TB_NATS_MONITOR_PORT/jsz?consumers=true" 2>/dev/null |
        python3 -c 'import json, sys
try:
    d = json.load(sys.stdin)
    print(sum(c.get("num_pending", 0) + c.get("num_ack_pending", 0)
              for a in d.get("account_details", []) for s in a.get("stream_detail", []) or []
              for c in s.get("consumer_detail", []) or []))
except Exception:
    print("?")'
}

# wait_backlog: waits (up to 300 s) until the durable consumers have caught
# up with what the streams kept from before this run: fills and orders of
# an earlier run (scripts/bench orders runs without analytics and
# notifications, whose consumers then resume with that run's fills) were
# booked inside the measured replay, 5 ms of PostgreSQL per 1,000 ticks in
# a --quick run after 85,000 such fills.
wait_backlog() {
    local n first='' deadline=$((SECONDS + 300))
    while :; do
        n=$(js_backlog)
        [[ -n $first ]] || first=$n
        [[ $n == 0 || $n == '?' ]] && break
        ((SECONDS < deadline)) || {
            tb_warn "chain: $n stream messages still not consumed; the run includes them"
            return 0
        }
        sleep 1
    done
    [[ $first == 0 || $first == '?' ]] ||
        tb_info "chain: the durable consumers caught up with $first earlier stream messages first"
}

declare -A result=()
for w in "${WORKER_SETS[@]}"; do
    for c in "${CONSUMERS[@]}"; do export "WORKERS_${c//-/_}=$w"; done
    # Each worker count on a database of its own, created and migrated by
    # scripts/up: the second count measured on the tables (and the
    # autovacuum) the first one left behind was not the same start
    # (docs/benchmarks.md). The previous count's is dropped once its
    # services have moved to the new one.
    prev_db=$chain_db
    chain_db=tradebus_chain${run}_w$w
    export TB_DB_NAME=$chain_db
    export DATABASE_URL="postgresql://$TB_DB_USER:$TB_DB_PASSWORD@$TB_HOST:$TB_PG_PORT/$TB_DB_NAME"
    export REDIS_URL="redis://$TB_HOST:$TB_REDIS_PORT/$CHAIN_REDIS_DB"
    redis_flush
    tb_info "chain: starting the services, $w worker(s) per tick consumer (database $chain_db)"
    MD_MODE=off LOG_LEVEL=${LOG_LEVEL:-warn} "$TB_SCRIPTS/up" --no-build >&2 ||
        tb_die "scripts/up failed (logs in $TB_LOGS)"
    [[ -z $prev_db ]] || drop_chain_db "$prev_db"
    admin=$(grep -m1 '^TRADEBUS_ADMIN_KEY=' "$TB_DEMO_ENV" | cut -d= -f2-)
    [[ -n $admin ]] || tb_die "no admin key in $TB_DEMO_ENV"
    prefix=C${run}W$w
    account=CHAIN${run}W$w
    api POST /v1/accounts "{\"account\":\"$account\",\"name\":\"chain benchmark\",\"initial_cash\":\"1000000000\"}"
    [[ $TB_HTTP_STATUS == 20? ]] || tb_die "POST /v1/accounts: HTTP $TB_HTTP_STATUS ${TB_HTTP_BODY:0:300}"
    # Limits that allow the load (as a user measuring throughput would set
    # them): the open-order count and order rate must not turn the run into
    # a measurement of how far the order path lags behind the ticks.
    api PUT "/v1/risk/limits/$account" "{\"account\":\"$account\",\"max_open_orders\":2000000000,\"max_orders_per_sec\":2000000000}"
    [[ $TB_HTTP_STATUS == 200 ]] || tb_die "PUT /v1/risk/limits: HTTP $TB_HTTP_STATUS ${TB_HTTP_BODY:0:300}"
    for k in A B C D; do
        api POST /v1/strategies "{\"strategy_id\":\"${prefix,,}-$k\",\"kind\":\"sma_cross\",\"symbol\":\"$prefix$k\",\"account\":\"$account\",\"params\":\"{\\\"fast\\\":5,\\\"slow\\\":20}\",\"enabled\":true,\"sizing\":\"fixed\",\"qty\":\"1\"}"
        [[ $TB_HTTP_STATUS == 20? ]] || tb_die "POST /v1/strategies: HTTP $TB_HTTP_STATUS ${TB_HTTP_BODY:0:300}"
    done
    csv=$work/chain-$prefix.csv
    tb_info "chain: writing $ticks ticks to $csv"
    write_ticks "$csv" "$prefix"
    # Every signal-processing worker learns of the strategies (cfg.strategy.*).
    sleep 2
    wait_backlog
    tb_info "chain: replaying at speed 0"
    cpu0=$(cpu_snapshot)
    out=$("$BENCH_BIN" replay "$csv" "$ticks" "chain-$prefix" "$max_s") || tb_die "tb-bench-chain failed"
    cpu1=$(cpu_snapshot)
    # CPU ms per 1,000 ticks over the run (until the chain was quiet).
    cpu=$(awk -v n="$ticks" -v hz="$(getconf CLK_TCK)" 'NR == FNR { a[$1] = $2; next }
        { d = $2 - a[$1]; if (d > 0) printf "cpu %s %.1f\n", $1, d * 1000 / hz / (n / 1000) }' \
        <(printf '%s\n' "$cpu0") <(printf '%s\n' "$cpu1"))
    out+=$'\n'"$cpu"
    printf '%s\n' "$out" >"$work/chain-$prefix.out"
    rss=''
    for s in "${TB_SERVICES[@]}" gateway; do
        read -r kb count max <<<"$(rss_of "$s")"
        rss+="$s $count $kb $max"$'\n'
    done
    api GET "/v1/positions?account=$account"
    positions=$(count_items)
    api GET "/v1/fills?account=$account&limit=1000"
    fills=$(count_items)
    result[$w]="$out"$'\n'"positions $positions"$'\n'"fills $fills"$'\n'"rss<<"$'\n'"$rss"
    rm -f "$csv"
done
tb_supervisor_stop >&2

tb_info "chain: anchor (bare nats.c publisher -> subscriber)"
anchor=$("$BENCH_BIN" anchor "$ticks") || tb_die "the anchor failed"

# ---------------------------------------------------------------- report --
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
printf 'tradebus chain benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf 'machine:  %s CPUs (nproc), %s\n' "$(tb_nproc)" "${cpu:-unknown CPU}"
printf 'load:     %s (before the report)\n' "$(cut -d ' ' -f 1-3 /proc/loadavg)"
printf 'commit:   %s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with local changes)')"
printf 'ticks:    %s over 4 symbols, one sma_cross strategy each, replay speed 0\n\n' "$ticks"
val() { awk -v k="$1" '$1 == k {print $2; exit}' <<<"$2"; }
anchor_s=$(val anchor_s "$anchor")
anchor_rate=$(awk -v n="$ticks" -v s="$anchor_s" 'BEGIN { if (s > 0) printf "%d", n / s; else print 0 }')
printf 'anchor: bare nats.c publish -> subscribe, %s msgs of %s bytes: %s msgs/s\n\n' \
    "$(val anchor_msgs "$anchor")" "$(val anchor_bytes "$anchor")" "$anchor_rate"
for w in "${WORKER_SETS[@]}"; do
    r=${result[$w]}
    all_s=$(val all_consumers_s "$r")
    # Unfinished: the slowest consumer's rate so far bounds the chain's.
    e2e=$(awk -v n="$ticks" -v s="$all_s" '$1 == "consumer" && $8 > 0 { r = $6 / $8; if (min == "" || r < min) min = r }
        END { if (s > 0) printf "%d", n / s; else printf "%d", min }' <<<"$r")
    printf '%s worker(s) per tick consumer\n' "$w"
    if [[ $(val complete "$r") == yes ]]; then
        printf '  end to end:   %s ticks/s (%s s until every consumer finished)\n' "$e2e" "$all_s"
    else
        printf '  end to end:   at most %s ticks/s (incomplete: the slowest consumer'"'"'s rate so far)\n' "$e2e"
    fi
    printf '  ratio:        %s of the anchor\n' \
        "$(awk -v a="$e2e" -v b="$anchor_rate" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "?" }')"
    printf '  publish:      %s s for %s ticks (market-data)\n' "$(val publish_s "$r")" "$(val published "$r")"
    printf '  chain quiet:  %s s (signals, orders, fills, positions booked; quiet: %s); %s fills, %s positions\n' \
        "$(val booked_s "$r")" "$(val quiet "$r")" "$(val fills "$r")" "$(val positions "$r")"
    awk '$1 == "consumer" {
        rate = ($8 > 0) ? sprintf("%d", $6 / $8) : "?"
        printf "  %-20s %d instance(s)  %9d ticks  %8s s  %10s ticks/s%s\n", $2, $4, $6, $8, rate,
            ($10 == "yes") ? "" : "  (unfinished)"
    }' <<<"$r"
    printf '  CPU per 1,000 ticks (ms, user + system, all instances, until quiet):\n'
    awk '$1 == "cpu" { printf "    %-20s %8.1f\n", $2, $3; t += $3 } END { printf "    %-20s %8.1f\n", "all", t }' <<<"$r"
    printf '  RSS at the end (kB, all instances; largest instance against the goal of %s kB):\n' "$RSS_GOAL_KB"
    awk -v goal="$RSS_GOAL_KB" 'f && NF == 4 && $2 > 0 {
        printf "    %-20s %2d x  %8d kB   largest %6d kB  %s\n", $1, $2, $3, $4, ($4 <= goal) ? "ok" : "OVER GOAL"
    } /^rss<</ { f = 1 }' <<<"$r"
    printf '\n'
done
cat <<'EOF'
end to end: ticks / time from the replay request until the last tick consumer
finished its last tick ($SRV.STATS num_requests of its md.tick.* endpoints,
all instances, polled every 50 ms). Numbers from different runs or machines
are not comparable; the ratio to the anchor within a run is.
EOF
