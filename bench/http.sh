#!/usr/bin/env bash
# Usage: scripts/bench http [--quick] [--rounds N] [--seconds S] [--conns C]
#
# The gateway's HTTP hot path against bare civetweb, in one run, with wrk
# (keep-alive, -t2 -cC, default 32 connections):
#   1. builds tb-gateway, tb-bench-civetweb, market-data and
#      position-management in Release into build-bench/;
#   2. starts the servers (those started here are stopped at exit), one
#      market-data (simulated DAX quotes) and one position-management, a
#      gateway (GATEWAY_RATE_LIMIT=1000000: the limiter runs but never
#      refuses) and the two anchors, each on a free port;
#   3. creates an admin key, waits for a DAX quote;
#   4. measures, round after round (each row once per round, so the machine's
#      load drifts over all rows alike):
#        civetweb, header API   bare handler, fixed JSON body (the anchor)
#        civetweb, one write    the same response in one mg_write
#        GET /health
#        GET /v1/market/quotes/DAX   authenticated, bus request to market-data
#        GET /v1/positions           authenticated, bus request to
#                                    position-management (PostgreSQL)
#        GET /health/all             with the number of $SRV collections
#   5. prints the median requests/s of each row, its p50/p99 (median over the
#      rounds), and its ratio to each anchor (medians of per-round ratios).
# Everything it starts is stopped at exit. Never run by scripts/test.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd -P)/lib.sh"

rounds=5 seconds=5 conns=32
while (($#)); do
    case "$1" in
    --quick) rounds=3 seconds=3 ;;
    --rounds | --seconds | --conns)
        [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || tb_die "$1 needs a positive number"
        declare "${1#--}=$2"
        shift
        ;;
    *) tb_die "http: unknown argument '$1'" ;;
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
tb_info "build-bench/ (Release: gateway, anchor, market-data, position-management)"
{ cmake -S "$TB_ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release >&2 &&
    cmake --build "$B" -j "$(tb_nproc)" --target tb-gateway tb-bench-civetweb \
        tb-market-data tb-position-management >&2; } || tb_die "the Release build failed"

"$TB_SCRIPTS/servers" status --quiet || started_servers=1
"$TB_SCRIPTS/servers" start >&2 || tb_die "could not start the servers"
eval "$("$TB_SCRIPTS/env")"
export NATS_URL DATABASE_URL REDIS_URL
tb_ensure_data_dir
work=$TB_DATA/bench-http
mkdir -p "$work"


bare_port=$(free_port) one_port=$(free_port) gw_port=$(free_port)
start bare "$B/bench/tb-bench-civetweb" "$bare_port"
start one "$B/bench/tb-bench-civetweb" --one-write "$one_port"
start market-data env MD_MODE=sim MD_SYMBOLS=DAX:16000 MD_RATE=5 \
    "$B/actors/market-data/tb-market-data"
start position-management "$B/actors/position-management/tb-position-management"
start gateway env GATEWAY_PORT="$gw_port" GATEWAY_RATE_LIMIT=1000000 "$B/gateway/tb-gateway"
GW=http://127.0.0.1:$gw_port
tb_wait_for 30 tb_port_open "$gw_port" || tb_die "the gateway did not start ($work/gateway.log)"
key=$("$B/gateway/tb-gateway" --create-admin-key --name bench-http 2>/dev/null) ||
    tb_die "cannot create a key"
AUTH="Authorization: Bearer $key"
quote_ready() { curl -sf -o /dev/null -H "$AUTH" "$GW/v1/market/quotes/DAX"; }
tb_wait_for 30 quote_ready || tb_die "no DAX quote ($work/market-data.log)"
curl -sf -o /dev/null -H "$AUTH" "$GW/v1/positions" || tb_die "GET /v1/positions failed"

collections() { # the gateway's own tb_gateway_health_collections_total
    curl -s "$GW/metrics" | awk -v id="$(curl -s "$GW/health" | tb_json_field id)" '
        index($0, "tb_gateway_health_collections_total{") == 1 && index($0, "\"" id "\"") { v = $2 }
        END { print v + 0 }'
}

ROWS=(bare one health quote positions all)
declare -A LABEL=(
    [bare]="civetweb, header API (anchor)" [one]="civetweb, one write"
    [health]="GET /health" [quote]="GET /v1/market/quotes/DAX (key)"
    [positions]="GET /v1/positions (key)" [all]="GET /health/all"
)
declare -A URL=(
    [bare]="http://127.0.0.1:$bare_port/" [one]="http://127.0.0.1:$one_port/"
    [health]="$GW/health" [quote]="$GW/v1/market/quotes/DAX"
    [positions]="$GW/v1/positions" [all]="$GW/health/all"
)
declare -A RPS P50 P99 ERR


c0=$(collections)
for ((r = 1; r <= rounds; r++)); do
    tb_info "round $r of $rounds"
    for row in "${ROWS[@]}"; do
        hdr=()
        [[ $row == quote || $row == positions ]] && hdr=(-H "$AUTH")
        out=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency "${hdr[@]}" "${URL[$row]}")
        RPS[$row]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
        P50[$row]+="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")") "
        P99[$row]+="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")") "
        ERR[$row]=$((${ERR[$row]:-0} + $(awk '/Non-2xx/ {n += $NF} /Socket errors/ {
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i + 0 } END {print n + 0}' <<<"$out")))
    done
done
all_s=$((rounds * seconds)) # /health/all is called only during its rows
c1=$(collections)

# ratio ROW ANCHOR: the median over rounds of ROW's req/s / ANCHOR's
ratio() {
    paste <(tr ' ' '\n' <<<"${RPS[$1]}" | awk 'NF') <(tr ' ' '\n' <<<"${RPS[$2]}" | awk 'NF') |
        awk '$2 > 0 {print $1 / $2}' | median
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
printf 'tradebus gateway HTTP benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
printf 'machine:  %s CPUs (nproc), %s; load %s\n' "$(tb_nproc)" "${cpu:-unknown CPU}" \
    "$(cut -d ' ' -f 1-3 /proc/loadavg)"
printf 'commit:   %s%s\n' "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with local changes)')"
printf 'load:     wrk %s, -t2 -c%s, %s s per row, %s rounds\n\n' \
    "$(wrk -v 2>&1 | head -n 1 | awk '{print $2}')" "$conns" "$seconds" "$rounds"
printf '%-34s %10s %9s %9s %9s %9s %7s\n' row req/s p50_ms p99_ms x_anchor x_1write errors
for row in "${ROWS[@]}"; do
    printf '%-34s %10.0f %9.2f %9.2f %9.3f %9.3f %7s\n' "${LABEL[$row]}" \
        "$(median <<<"${RPS[$row]}")" "$(median <<<"${P50[$row]}")" "$(median <<<"${P99[$row]}")" \
        "$(ratio "$row" bare)" "$(ratio "$row" one)" "${ERR[$row]}"
done
# shellcheck disable=SC2016 # $SRV is literal
printf '\n/health/all: %s $SRV collections during its %s s of calls (GATEWAY_HEALTH_CACHE_MS=1000:\n' \
    "$((c1 - c0))" "$all_s"
printf 'at most one a second, plus one a round); its errors column counts its 503s (the\n'
printf 'services of DESIGN 1 do not run here). Other errors: wrk timeouts (2 s) and non-2xx.\n'
cat <<'EOF'
req/s: median over the rounds. p50/p99: medians over the rounds of wrk's
percentiles. x_anchor / x_1write: median over the rounds of the row's req/s
divided by the anchor's in the same round. Goals (issue 12): /health >= 0.5,
quotes >= 0.25 x the anchor; /health/all >= 2,000 req/s.
EOF
