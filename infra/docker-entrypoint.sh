#!/bin/bash
# Entry point of the tradebus image: the first argument chooses what runs.
#
#   market-data | historical-data | signal-processing | risk-management |
#   trading-execution | position-management | analytics | notifications
#                        the service tb-<name>
#   gateway | api-gateway  tb-gateway (REST on GATEWAY_PORT, default 8000)
#   create-admin-key     tb-gateway --create-admin-key (prints a new admin key)
#   migrate              scripts/migrate against DATABASE_URL
#   tap ARGS...          tb-tap ARGS (e.g. tap 'fills.>')
#   ctl ARGS...          tb-ctl ARGS (e.g. ctl services)
#   healthcheck NAME     exit 0 when this container's instance of NAME is
#                        healthy (the gateway: GET /health; a service: its
#                        svc.<name>.<id>.health over NATS)
#   help                 this text
# Anything else is executed as given (e.g. `tb-ctl health`).
#
# Every service instance takes the container's host name as its INSTANCE_ID,
# unless set, so that the health check asks exactly this container and
# `tb-ctl services` shows which container is which.
#
# With TB_ENV=production (docker-compose.prod.yml sets it) nothing
# starts while NATS_URL, DATABASE_URL or REDIS_URL carries no password or a
# development default one (tradebus-compose, tradebus-local, sys-compose,
# sys-local): the message names the variable, the exit status is 2.
set -euo pipefail

export INSTANCE_ID=${INSTANCE_ID:-$(hostname)}

usage() { sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$0"; }

# The password of a URL scheme://[user]:password@host..., "" when none.
url_password() {
    local re='^[a-z]+://[^:/@]*:([^@]*)@'
    if [[ $1 =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

refuse_dev_secrets() {
    local name value password bad=0
    for name in NATS_URL DATABASE_URL REDIS_URL; do
        value=${!name:-}
        if [[ -z $value ]]; then
            echo "tradebus: $name is not set (TB_ENV=production)" >&2
            bad=1
            continue
        fi
        password=$(url_password "$value")
        case "$password" in
        "")
            echo "tradebus: $name has no password (TB_ENV=production)" >&2
            bad=1
            ;;
        tradebus-compose | tradebus-local | sys-compose | sys-local)
            echo "tradebus: $name uses the development password '$password'; set your own in .env (TB_ENV=production)" >&2
            bad=1
            ;;
        esac
    done
    ((bad == 0)) || exit 2
}

cmd=${1:-help}
(($#)) && shift
case "$cmd" in
help | -h | --help) ;;
*) if [[ ${TB_ENV:-} == production ]]; then refuse_dev_secrets; fi ;;
esac
case "$cmd" in
market-data | historical-data | signal-processing | risk-management | \
    trading-execution | position-management | analytics | notifications)
    exec "tb-$cmd" "$@"
    ;;
gateway | api-gateway) exec tb-gateway "$@" ;;
create-admin-key) exec tb-gateway --create-admin-key "$@" ;;
migrate) exec /opt/tradebus/scripts/migrate "$@" ;;
tap) exec tb-tap "$@" ;;
ctl) exec tb-ctl "$@" ;;
healthcheck)
    name=${1:?healthcheck needs a service name}
    if [[ $name == gateway || $name == api-gateway ]]; then
        exec curl -fsS --max-time 4 -o /dev/null "http://127.0.0.1:${GATEWAY_PORT:-8000}/health"
    fi
    exec tb-ctl --timeout 4 health "$name" --id "$INSTANCE_ID" >/dev/null
    ;;
help | -h | --help) usage ;;
*) exec "$cmd" "$@" ;;
esac
