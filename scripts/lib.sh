# shellcheck shell=bash disable=SC2034 # variables here are used by the scripts sourcing it
# Shared helpers for the tradebus scripts. Sourced, never executed:
#
#   TB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
#   source "$TB_SCRIPTS/lib.sh"
#
# Defines the repository root, the data folder and the local ports, logging
# and wait-for helpers, and how PostgreSQL is run (as the unprivileged
# `postgres` user when we are root: PostgreSQL refuses to run as root).
#
# Everything a user may override is an environment variable:
#   TB_DATA_DIR          data folder (default <repo>/.tradebus, git-ignored)
#   TB_NATS_PORT         NATS client port             (default 14222)
#   TB_NATS_MONITOR_PORT NATS HTTP monitoring port    (default 18222)
#   TB_PG_PORT           PostgreSQL port              (default 15432)
#   TB_REDIS_PORT        Redis port                   (default 16379)
#   TB_INFLUX            1: scripts/servers also runs InfluxDB (default); 0: not,
#                        and scripts/env exports no INFLUX_URL (no sink)
#   TB_INFLUX_PORT       InfluxDB HTTP port           (default 18086)
#   TB_INFLUX_RPC_PORT   InfluxDB backup/restore RPC  (default TB_INFLUX_PORT + 2)
#   TB_INFLUX_DB         InfluxDB database            (default tradebus)
#   TB_PROMETHEUS_PORT   Prometheus of scripts/monitoring (default 19090)
#   TB_NATS_USER / TB_NATS_PASSWORD          account TRADEBUS (tradebus / tradebus-local)
#   TB_NATS_SYS_USER / TB_NATS_SYS_PASSWORD  system account SYS (sys / sys-local)
#   TB_DB_USER / TB_DB_PASSWORD / TB_DB_NAME (tradebus / tradebus-local / tradebus)
#   TB_PG_BINDIR         PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin)
#   TB_PG_OS_USER        OS user running PostgreSQL when we are root (default postgres)
#   TB_PG_DIR            PostgreSQL folder (cluster, socket, log); default below
#   TB_WAIT_TIMEOUT      seconds to wait for a server to answer (default 60)
# The ports are chosen not to clash with system-wide installs (4222, 5432, 6379).

if [[ -n ${TB_LIB_LOADED:-} ]]; then
    return 0
fi
TB_LIB_LOADED=1

# ---------------------------------------------------------------- locations --

TB_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TB_ROOT=$(cd "$TB_SCRIPTS/.." && pwd -P)
if [[ ! -f $TB_ROOT/CMakeLists.txt || ! -d $TB_ROOT/scripts ]]; then
    printf 'tradebus: cannot find the repository root (looked at %s)\n' "$TB_ROOT" >&2
    exit 1
fi
TB_DATA=${TB_DATA_DIR:-$TB_ROOT/.tradebus}
TB_LOGS=$TB_DATA/logs
TB_RUN=$TB_DATA/run
# Marker written into every data folder we create; `reset` deletes only folders
# that carry it, so a mistyped TB_DATA_DIR cannot wipe anything else.
TB_DATA_MARKER=.tradebus-data

# -------------------------------------------------------------------- ports --

TB_NATS_PORT=${TB_NATS_PORT:-14222}
TB_NATS_MONITOR_PORT=${TB_NATS_MONITOR_PORT:-18222}
TB_PG_PORT=${TB_PG_PORT:-15432}
TB_REDIS_PORT=${TB_REDIS_PORT:-16379}
TB_INFLUX=${TB_INFLUX:-1}
TB_INFLUX_PORT=${TB_INFLUX_PORT:-18086}
TB_INFLUX_RPC_PORT=${TB_INFLUX_RPC_PORT:-$((TB_INFLUX_PORT + 2))}
TB_INFLUX_DB=${TB_INFLUX_DB:-tradebus}
TB_PROMETHEUS_PORT=${TB_PROMETHEUS_PORT:-19090}
TB_HOST=127.0.0.1

# -------------------------------------------------------------- credentials --
# Local-only development credentials. They are used in URLs and in the NATS
# config, so they are restricted to characters that need no escaping there.

TB_NATS_USER=${TB_NATS_USER:-tradebus}
TB_NATS_PASSWORD=${TB_NATS_PASSWORD:-tradebus-local}
TB_NATS_SYS_USER=${TB_NATS_SYS_USER:-sys}
TB_NATS_SYS_PASSWORD=${TB_NATS_SYS_PASSWORD:-sys-local}
TB_DB_USER=${TB_DB_USER:-tradebus}
TB_DB_PASSWORD=${TB_DB_PASSWORD:-tradebus-local}
TB_DB_NAME=${TB_DB_NAME:-tradebus}
TB_WAIT_TIMEOUT=${TB_WAIT_TIMEOUT:-60}

# ------------------------------------------------------------------ logging --

TB_PROG=${TB_PROG:-$(basename "$0")}
if [[ -t 2 && -z ${NO_COLOR:-} ]]; then
    _tb_c_red=$'\e[31m' _tb_c_yel=$'\e[33m' _tb_c_grn=$'\e[32m' _tb_c_dim=$'\e[2m' _tb_c_off=$'\e[0m'
else
    _tb_c_red='' _tb_c_yel='' _tb_c_grn='' _tb_c_dim='' _tb_c_off=''
fi

tb_info() { printf '%s[%s]%s %s\n' "$_tb_c_dim" "$TB_PROG" "$_tb_c_off" "$*" >&2; }
tb_ok() { printf '%s[%s]%s %s%s%s\n' "$_tb_c_dim" "$TB_PROG" "$_tb_c_off" "$_tb_c_grn" "$*" "$_tb_c_off" >&2; }
tb_warn() { printf '%s[%s]%s %swarning:%s %s\n' "$_tb_c_dim" "$TB_PROG" "$_tb_c_off" "$_tb_c_yel" "$_tb_c_off" "$*" >&2; }
tb_error() { printf '%s[%s]%s %serror:%s %s\n' "$_tb_c_dim" "$TB_PROG" "$_tb_c_off" "$_tb_c_red" "$_tb_c_off" "$*" >&2; }
tb_die() {
    tb_error "$*"
    exit 1
}

# tb_log_tail FILE [LINES]: shows the end of a log on stderr (for failures).
tb_log_tail() {
    local file=$1 lines=${2:-30}
    if [[ -r $file ]]; then
        printf '%s--- last %s lines of %s ---%s\n' "$_tb_c_dim" "$lines" "$file" "$_tb_c_off" >&2
        tail -n "$lines" "$file" >&2 || true
        printf '%s---%s\n' "$_tb_c_dim" "$_tb_c_off" >&2
    else
        printf '(no log at %s)\n' "$file" >&2
    fi
}

# tb_usage: prints the leading comment block of the calling script (after the
# shebang) as its help text.
tb_usage() {
    sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$0"
}

# ---------------------------------------------------------------- waiting --

# tb_wait_for TIMEOUT_S CMD...: runs CMD every 0.2 s until it succeeds (0) or
# TIMEOUT_S seconds have passed (1). CMD's output is discarded.
tb_wait_for() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    while ! "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.2
    done
    return 0
}

# tb_pid_alive PID [COMM]: true when PID runs (and, given COMM, its command
# name is COMM, so a recycled pid is not mistaken for our server).
tb_pid_alive() {
    local pid=$1 comm=${2:-} actual
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -n $comm ]]; then
        actual=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
        [[ $actual == "$comm" ]] || return 1
    fi
    # A zombie is not running.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# tb_pidfile_pid FILE: prints the pid in FILE, its first word (empty when
# absent).
tb_pidfile_pid() {
    local pid='' rest
    if [[ -r $1 ]]; then
        read -r pid rest <"$1" || true
    fi
    printf '%s' "${pid//[^0-9]/}"
}

# tb_stop_pid PID TIMEOUT_S [NAME]: SIGTERM, wait, then SIGKILL. Only for
# processes that are not our children (those are reaped with `wait`).
tb_stop_pid() {
    local pid=$1 timeout=$2 name=${3:-process}
    tb_pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    if ! tb_wait_for "$timeout" _tb_pid_gone "$pid"; then
        tb_warn "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        tb_wait_for 5 _tb_pid_gone "$pid" || true
    fi
}
_tb_pid_gone() { ! tb_pid_alive "$1"; }

# tb_port_open PORT: true when something accepts TCP connections on
# 127.0.0.1:PORT.
tb_port_open() {
    # shellcheck disable=SC2016 # $1 expands in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# ------------------------------------------------------------------- misc --

tb_nproc() { nproc 2>/dev/null || echo 2; }

tb_is_root() { ((EUID == 0)); }

# tb_short_hash STRING: 12 hex digits identifying STRING (used for the
# per-clone fallback folder under /var/tmp).
tb_short_hash() { printf '%s' "$1" | sha256sum | cut -c1-12; }

# tb_check_credential NAME VALUE: credentials go into URLs and configs
# unescaped, so only URL-safe characters are accepted.
tb_check_credential() {
    [[ $2 =~ ^[A-Za-z0-9._~-]+$ ]] ||
        tb_die "$1 may only contain letters, digits and . _ ~ - (got '$2')"
}

# tb_ensure_data_dir: creates the data folder (with its marker), logs/, run/.
tb_ensure_data_dir() {
    mkdir -p "$TB_DATA" "$TB_LOGS" "$TB_RUN"
    chmod 755 "$TB_DATA"
    [[ -e $TB_DATA/$TB_DATA_MARKER ]] ||
        printf 'tradebus local data; scripts/servers reset deletes this folder\n' >"$TB_DATA/$TB_DATA_MARKER"
}

# tb_influx_on: true unless TB_INFLUX is 0 (or no, off, false).
tb_influx_on() { [[ ! ${TB_INFLUX,,} =~ ^(0|no|off|false)$ ]]; }

# tb_urls: sets NATS_URL, NATS_SYS_URL, DATABASE_URL, REDIS_URL and, unless
# TB_INFLUX=0, INFLUX_URL and INFLUX_DB, keeping values already in the
# environment.
tb_urls() {
    NATS_URL=${NATS_URL:-nats://$TB_NATS_USER:$TB_NATS_PASSWORD@$TB_HOST:$TB_NATS_PORT}
    NATS_SYS_URL=${NATS_SYS_URL:-nats://$TB_NATS_SYS_USER:$TB_NATS_SYS_PASSWORD@$TB_HOST:$TB_NATS_PORT}
    DATABASE_URL=${DATABASE_URL:-postgresql://$TB_DB_USER:$TB_DB_PASSWORD@$TB_HOST:$TB_PG_PORT/$TB_DB_NAME}
    REDIS_URL=${REDIS_URL:-redis://$TB_HOST:$TB_REDIS_PORT/0}
    if tb_influx_on; then
        INFLUX_URL=${INFLUX_URL:-http://$TB_HOST:$TB_INFLUX_PORT}
        INFLUX_DB=${INFLUX_DB:-$TB_INFLUX_DB}
    fi
}

# tb_cmake_build DIR BUILD_TYPE [CMAKE ARGS...]: configures (once) and builds
# the project into <repo>/DIR with all cores.
tb_cmake_build() {
    local dir=$TB_ROOT/$1 type=$2
    shift 2
    cmake -S "$TB_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" &&
        cmake --build "$dir" -j "$(tb_nproc)"
}

# --------------------------------------------------------------- postgres --

# tb_pg_bindir: the newest Debian PostgreSQL server binaries, or pg_ctl's
# folder when it is on PATH.
tb_pg_bindir() {
    if [[ -n ${TB_PG_BINDIR:-} ]]; then
        printf '%s' "$TB_PG_BINDIR"
        return 0
    fi
    local v best=''
    for v in /usr/lib/postgresql/*/bin/pg_ctl; do
        [[ -x $v ]] || continue
        v=${v#/usr/lib/postgresql/}
        v=${v%%/*}
        if [[ -z $best ]] || ((${v%%.*} > ${best%%.*})); then
            best=$v
        fi
    done
    if [[ -n $best ]]; then
        printf '/usr/lib/postgresql/%s/bin' "$best"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    else
        tb_die "PostgreSQL server binaries not found (run scripts/setup, or set TB_PG_BINDIR)"
    fi
}

# tb_pg_os_user: the OS user that runs PostgreSQL: `postgres` when we are
# root (PostgreSQL refuses root), else ourselves.
tb_pg_os_user() {
    if tb_is_root; then
        printf '%s' "${TB_PG_OS_USER:-postgres}"
    else
        id -un
    fi
}

# tb_as_pg CMD...: runs CMD as the PostgreSQL OS user, from / so a working
# directory closed to that user does not matter.
tb_as_pg() {
    if tb_is_root; then
        local user
        user=$(tb_pg_os_user)
        id -u "$user" >/dev/null 2>&1 ||
            tb_die "user '$user' does not exist (install PostgreSQL with scripts/setup, or set TB_PG_OS_USER)"
        if command -v runuser >/dev/null 2>&1; then
            (cd / && runuser -u "$user" -- "$@")
        else
            (cd / && su -s /bin/sh "$user" -c "$(printf '%q ' "$@")")
        fi
    else
        "$@"
    fi
}

# tb_pg_fallback_dir: /var/tmp/tradebus-<hash of the repo path>/pg, used when
# the PostgreSQL user cannot reach the repository (a clone under /root).
tb_pg_fallback_dir() { printf '/var/tmp/tradebus-%s/pg' "$(tb_short_hash "$TB_ROOT")"; }

# tb_pg_resolve: sets TB_PG_BASE (folder holding data/, run/ and log/),
# TB_PG_DATA, TB_PG_SOCKDIR and TB_PG_LOG. An existing cluster wins; else the
# data folder when the PostgreSQL user can reach it, else the fallback.
tb_pg_resolve() {
    [[ -n ${TB_PG_BASE:-} ]] && return 0
    local in_repo=$TB_DATA/pg fallback
    fallback=$(tb_pg_fallback_dir)
    if [[ -n ${TB_PG_DIR:-} ]]; then
        TB_PG_BASE=$TB_PG_DIR
    elif [[ -f $in_repo/data/PG_VERSION ]]; then
        TB_PG_BASE=$in_repo
    elif [[ -f $fallback/data/PG_VERSION ]]; then
        TB_PG_BASE=$fallback
    else
        TB_PG_BASE=$in_repo
        # A Unix socket path is limited to 107 bytes.
        local sock=$in_repo/run/.s.PGSQL.$TB_PG_PORT
        if ((${#sock} > 100)); then
            TB_PG_BASE=$fallback
        elif tb_is_root; then
            # The PostgreSQL user must traverse every folder down to the data
            # folder (created 0755 by us when missing): test the deepest one
            # that exists, which covers all its parents.
            local probe=$TB_DATA
            while [[ ! -d $probe ]]; do probe=$(dirname "$probe"); done
            if ! tb_as_pg test -x "$probe"; then
                TB_PG_BASE=$fallback
            fi
        fi
    fi
    TB_PG_DATA=$TB_PG_BASE/data
    TB_PG_SOCKDIR=$TB_PG_BASE/run
    TB_PG_LOG=$TB_PG_BASE/log/postgres.log
}

# tb_proc_jiffies PID: the process's CPU time so far (user + system, clock
# ticks; 0 when it is gone). The benchmarks' CPU per unit of work.
tb_proc_jiffies() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# tb_pg_jiffies: tb_proc_jiffies of our PostgreSQL, the postmaster and every
# backend and helper it runs (0 when it is not running).
tb_pg_jiffies() {
    tb_pg_resolve
    local pid child total=0
    pid=$(head -n 1 "$TB_PG_DATA/postmaster.pid" 2>/dev/null || true)
    if [[ -n $pid ]]; then
        total=$(tb_proc_jiffies "$pid")
        for child in $(pgrep -P "$pid" || true); do total=$((total + $(tb_proc_jiffies "$child"))); done
    fi
    printf '%s\n' "$total"
}

# tb_pg_running: true when our cluster's postmaster runs.
tb_pg_running() {
    tb_pg_resolve
    [[ -f $TB_PG_DATA/PG_VERSION ]] || return 1
    tb_as_pg "$(tb_pg_bindir)/pg_ctl" status -D "$TB_PG_DATA" >/dev/null 2>&1
}

# tb_pg_admin_psql [PSQL ARGS...]: psql as the cluster superuser over the
# Unix socket (trusted locally).
tb_pg_admin_psql() {
    tb_pg_resolve
    psql -X -q -v ON_ERROR_STOP=1 -h "$TB_PG_SOCKDIR" -p "$TB_PG_PORT" -U postgres "$@"
}

# ------------------------------------------------------------------- nats --

# tb_nats_probe [USER PASS]: connects to the local NATS server, sends CONNECT
# (with the credentials, if given) and PING, and prints the server's answer:
# `PONG` when admitted, `-ERR 'Authorization Violation'` when not.
tb_nats_probe() {
    local user=${1:-} pass=${2:-}
    (
        exec 3<>"/dev/tcp/$TB_HOST/$TB_NATS_PORT" || exit 2
        IFS= read -r -t 5 line <&3 || exit 2 # INFO {...}
        if [[ -n $user ]]; then
            connect=$(printf '{"verbose":false,"pedantic":false,"name":"tradebus-auth-selfcheck","user":"%s","pass":"%s"}' "$user" "$pass")
        else
            connect='{"verbose":false,"pedantic":false,"name":"tradebus-auth-selfcheck"}'
        fi
        printf 'CONNECT %s\r\nPING\r\n' "$connect" >&3
        IFS= read -r -t 5 line <&3 || exit 2
        printf '%s\n' "${line%$'\r'}"
    ) 2>/dev/null
}

# ------------------------------------------------------------- supervisor --

TB_SUPERVISOR_PIDFILE=$TB_RUN/supervisor.pid

tb_supervisor_pid() {
    local pid
    pid=$(tb_pidfile_pid "$TB_SUPERVISOR_PIDFILE")
    if [[ -n $pid ]] && tb_pid_alive "$pid"; then
        printf '%s' "$pid"
    fi
}

# _tb_pid_runs PID BINARY: true when PID still runs BINARY (service pid files
# hold "PID BINARY", and a pid may have been recycled). BINARY is the
# executable (" (deleted)" once rebuilt) or, for a script, its first argument.
_tb_pid_runs() {
    local exe
    local -a argv=()
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    [[ ${exe% (deleted)} == "$2" ]] && return 0
    mapfile -d '' -n 2 argv <"/proc/$1/cmdline" 2>/dev/null || return 1
    [[ ${argv[0]:-} == "$2" || ${argv[1]:-} == "$2" ]]
}

# tb_supervisor_stop: stops the service supervisor (which stops its
# services), then any service it left behind (e.g. after a kill -9).
tb_supervisor_stop() {
    local pid f
    pid=$(tb_supervisor_pid)
    if [[ -n $pid ]]; then
        tb_info "stopping the service supervisor (pid $pid)"
        tb_stop_pid "$pid" 40 supervisor
    fi
    rm -f "$TB_SUPERVISOR_PIDFILE"
    local bin rest
    for f in "$TB_RUN"/services/*.pid; do
        [[ -e $f ]] || continue
        pid='' bin=''
        read -r pid bin rest <"$f" || true
        if [[ -n $pid && -n $bin ]] && tb_pid_alive "$pid" && _tb_pid_runs "$pid" "$bin"; then
            tb_warn "stopping leftover service $(basename "$f" .pid) (pid $pid)"
            tb_stop_pid "$pid" 15 "$(basename "$f" .pid)"
        fi
        rm -f "$f"
    done
}

# ------------------------------------------------------------ local runner --
# Shared by scripts/up, scripts/down and scripts/status.
#   TB_BUILD_DIR  build folder whose binaries scripts/up runs (default
#                 <repo>/build; relative paths are taken from the repo root)
#   GATEWAY_PORT  the gateway's HTTP port (default 8000)

TB_BUILD=${TB_BUILD_DIR:-build}
[[ $TB_BUILD == /* ]] || TB_BUILD=$TB_ROOT/$TB_BUILD
# The services of DESIGN §1 (the gateway is started as "gateway",
# build/gateway/tb-gateway, and calls itself api-gateway on the bus).
TB_SERVICES=(market-data historical-data signal-processing risk-management
    trading-execution position-management analytics notifications)
# Keys, account and URL of the demo set up by scripts/up, as NAME=value lines.
TB_DEMO_ENV=$TB_DATA/demo.env
# What scripts/up last started with (GATEWAY_PORT, the build folder), so
# status and down find the gateway without being told again.
TB_UP_ENV=$TB_RUN/up.env

# tb_service_binary NAME: the binary of a service (or the gateway) in the
# build folder; it may not exist.
tb_service_binary() {
    if [[ $1 == gateway ]]; then
        printf '%s/gateway/tb-gateway' "$TB_BUILD"
    else
        printf '%s/actors/%s/tb-%s' "$TB_BUILD" "$1" "$1"
    fi
}

# tb_workers NAME: copies to run of a service: WORKERS_<name with _ for ->
# (as in WORKERS_position_management=3, or upper case), default 1.
tb_workers() {
    local lower=${1//-/_} upper v
    upper=${lower^^}
    local var=WORKERS_$lower
    v=${!var:-}
    if [[ -z $v ]]; then
        var=WORKERS_$upper
        v=${!var:-}
    fi
    v=${v:-1}
    [[ $v =~ ^[0-9]+$ ]] || tb_die "$var must be a whole number (got '$v')"
    printf '%s' "$((10#$v))"
}

# tb_up_setting NAME DEFAULT: NAME from the environment, else from what the
# last scripts/up recorded, else DEFAULT.
tb_up_setting() {
    if [[ -n ${!1:-} ]]; then
        printf '%s' "${!1}"
        return 0
    fi
    local line
    if [[ -r $TB_UP_ENV ]]; then
        line=$(grep -m1 "^$1=" "$TB_UP_ENV" 2>/dev/null || true)
        if [[ -n $line ]]; then
            printf '%s' "${line#*=}"
            return 0
        fi
    fi
    printf '%s' "$2"
}

# tb_gateway_url: http://127.0.0.1:<GATEWAY_PORT>.
tb_gateway_url() { printf 'http://127.0.0.1:%s' "$(tb_up_setting GATEWAY_PORT 8000)"; }

# tb_http METHOD URL [BODY [KEY]]: one HTTP request with curl. Sets
# TB_HTTP_STATUS (000 when nothing answered) and TB_HTTP_BODY.
tb_http() {
    local method=$1 url=$2 body=${3:-} key=${4:-} out
    local -a args=(-sS --max-time 10 -X "$method" -o - -w '\n%{http_code}')
    [[ -n $key ]] && args+=(-H "Authorization: Bearer $key")
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    out=$(curl "${args[@]}" "$url" 2>/dev/null) || true
    TB_HTTP_STATUS=${out##*$'\n'}
    [[ $TB_HTTP_STATUS =~ ^[0-9]{3}$ ]] || TB_HTTP_STATUS=000
    if [[ $out == *$'\n'* ]]; then
        TB_HTTP_BODY=${out%$'\n'*}
    else
        TB_HTTP_BODY=''
    fi
}

# tb_json_field FIELD: prints FIELD of the JSON object on stdin (nothing
# when absent or not JSON). Nested: a.b.
tb_json_field() {
    python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
    for k in sys.argv[1].split("."):
        v = v[k]
except Exception:
    sys.exit(0)
if isinstance(v, bool):
    print("true" if v else "false")
elif v is not None:
    print(v)
' "$1"
}

# tb_leftovers: prints "what pid" for every process a pid file of the local
# runner names that still runs (services, supervisor, servers); nothing when
# all are gone.
tb_leftovers() {
    local f pid bin rest
    for f in "$TB_RUN"/services/*.pid; do
        [[ -e $f ]] || continue
        pid='' bin=''
        read -r pid bin rest <"$f" || true
        if [[ -n $pid && -n $bin ]] && tb_pid_alive "$pid" && _tb_pid_runs "$pid" "$bin"; then
            printf '%s %s\n' "$(basename "$f" .pid)" "$pid"
        fi
    done
    pid=$(tb_supervisor_pid)
    [[ -n $pid ]] && printf 'supervisor %s\n' "$pid"
    pid=$(tb_pidfile_pid "$TB_DATA/nats/nats-server.pid")
    [[ -n $pid ]] && tb_pid_alive "$pid" nats-server && printf 'nats-server %s\n' "$pid"
    pid=$(tb_pidfile_pid "$TB_DATA/redis/redis.pid")
    [[ -n $pid ]] && tb_pid_alive "$pid" redis-server && printf 'redis-server %s\n' "$pid"
    pid=$(tb_pidfile_pid "$TB_DATA/influxdb/influxd.pid")
    [[ -n $pid ]] && tb_pid_alive "$pid" influxd && printf 'influxd %s\n' "$pid"
    pid=$(tb_pidfile_pid "$TB_DATA/prometheus/prometheus.pid")
    [[ -n $pid ]] && tb_pid_alive "$pid" prometheus && printf 'prometheus %s\n' "$pid"
    tb_pg_resolve
    if [[ -r $TB_PG_DATA/postmaster.pid ]]; then
        read -r pid <"$TB_PG_DATA/postmaster.pid" || true
        [[ -n $pid ]] && tb_pid_alive "$pid" postgres && printf 'postgres %s\n' "$pid"
    fi
    return 0
}
