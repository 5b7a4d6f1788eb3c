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
set -euo pipefail

export INSTANCE_ID=${INSTANCE_ID:-$(hostname)}

usage() { sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$0"; }

cmd=${1:-help}
(($#)) && shift
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
