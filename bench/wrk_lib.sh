# Shared by the wrk-driven benchmarks (bench/http.sh, bench/orders.sh);
# sourced after scripts/lib.sh. Each script sets $work (its log folder)
# before calling start. Processes started with start and servers started
# here (started_servers=1) are stopped at exit.

started_servers=0
pids=()
# shellcheck disable=SC2317 # runs from the EXIT trap
wrk_on_exit() {
    local rc=$? p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if ((started_servers)); then
        "$TB_SCRIPTS/servers" stop >&2 2>&1 || tb_warn "could not stop the servers"
    fi
    exit "$rc"
}
trap wrk_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME COMMAND...: in the background, logging to $work/NAME.log
start() {
    local name=$1
    shift
    "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
}

# to_ms 1.23ms|456.00us|1.20s -> milliseconds (wrk's latency units)
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
        else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# median of the numbers on stdin (space or newline separated)
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
