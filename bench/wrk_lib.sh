# Shared by the wrk-driven benchmarks (bench/http.sh, bench/orders.sh);
# sourced after scripts/lib.sh. Each script sets $work (its log folder)
# before calling start. Processes started with start and servers started
# here (started_servers=1) are stopped at exit.

started_servers=0
bench_db='' # a database made for this run (bench_database), dropped at exit
pids=()
names=()
# shellcheck disable=SC2317 # runs from the EXIT trap
wrk_on_exit() {
    local rc=$? p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n $bench_db ]]; then
        tb_pg_admin_psql -d postgres -c "DROP DATABASE IF EXISTS \"$bench_db\" WITH (FORCE)" \
            >/dev/null 2>&1 || tb_warn "could not drop the database $bench_db"
    fi
    if ((started_servers)); then
        "$TB_SCRIPTS/servers" stop >&2 2>&1 || tb_warn "could not stop the servers"
    fi
    exit "$rc"
}
trap wrk_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_database NAME: the run's services use a database of their own,
# NAME (created by scripts/servers start, migrated by scripts/migrate,
# dropped at exit): a run on the tables, indexes and outbox that earlier runs
# left behind is not the same start (an orders run on a database of a day's
# runs, 715,000 orders and 1.4 million outbox rows, answered a fifth fewer
# orders than on a new one). Call before scripts/servers start.
bench_database() {
    bench_db=$1
    export TB_DB_NAME=$1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME COMMAND...: in the background, logging to $work/NAME.log
start() {
    local name=$1
    shift
    "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
}

# cpu_snapshot: "NAME JIFFIES" lines, the CPU time (user + system) so far of
# each process started with start, of PostgreSQL (the postmaster and every
# backend, $TB_PG_DATA), of nats-server and of redis-server. Differences
# over a measurement divided by the work done give CPU per unit of work:
# unlike rates, nearly independent of what else the machine runs.
cpu_snapshot() {
    local i pid server
    for i in "${!pids[@]}"; do printf '%s %s\n' "${names[$i]}" "$(tb_proc_jiffies "${pids[$i]}")"; done
    printf 'postgresql %s\n' "$(tb_pg_jiffies)"
    for server in nats/nats-server redis/redis; do
        pid=$(head -n 1 "$TB_DATA/$server.pid" 2>/dev/null || true)
        printf '%s %s\n' "${server#*/}" "$([[ -n $pid ]] && tb_proc_jiffies "$pid" || echo 0)"
    done
}

# cpu_per SNAPSHOT0 SNAPSHOT1 N [IDLE SECONDS]: "NAME MS" lines, each
# process's CPU milliseconds per unit over N units, and "all MS", their sum.
# With IDLE ("NAME MS_PER_S" lines, cpu_idle_rate) and the window's length,
# what each process spends idle over as long a window is taken off first.
cpu_per() {
    awk -v n="$3" -v secs="${5:-0}" -v hz="$(getconf CLK_TCK)" '
        FILENAME == ARGV[1] { idle[$1] = $2; next }
        FILENAME == ARGV[2] { a[$1] = $2; next }
        { d = ($2 - a[$1]) * 1000 / hz - idle[$1] * secs; if (d < 0) d = 0
          d /= (n > 0 ? n : 1); all += d; printf "%s %.3f\n", $1, d }
        END { printf "all %.3f\n", all }' <(printf '%s\n' "${4:-}") <(printf '%s\n' "$1") \
        <(printf '%s\n' "$2")
}

# cpu_idle_rate SECONDS: "NAME MS_PER_S" lines, each process's CPU while
# nothing is asked of it (timers, a simulated feed, PostgreSQL's background
# work), measured over SECONDS.
cpu_idle_rate() {
    local c0
    c0=$(cpu_snapshot)
    sleep "$1"
    cpu_per "$c0" "$(cpu_snapshot)" "$1"
}

# to_ms 1.23ms|456.00us|1.20s -> milliseconds (wrk's latency units)
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
        else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# median of the numbers on stdin (space or newline separated)
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
