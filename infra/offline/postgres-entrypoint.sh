#!/bin/bash
# Entry point of the offline postgres image (infra/offline/Dockerfile): the
# part of the official postgres image's entry point that docker-compose.yml
# relies on. On the first start (empty PGDATA) it makes the cluster with
# POSTGRES_USER (default postgres) as superuser and POSTGRES_PASSWORD as its
# password, password authentication (scram-sha-256) for every TCP client,
# listening on every address of the container, and creates POSTGRES_DB
# (default: the user's name). Then it runs `postgres` with the given
# arguments; any other command is executed as given.
set -euo pipefail

if [[ ${1:-postgres} != postgres ]]; then
    exec "$@"
fi
(($#)) && shift

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
        echo "postgres-entrypoint: POSTGRES_PASSWORD is not set; no cluster is made without one" >&2
        exit 2
    fi
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    pwfile=$(mktemp)
    trap 'rm -f "$pwfile"' EXIT
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [[ $db != postgres ]]; then
        # A double quote inside an identifier is written twice.
        echo "CREATE DATABASE \"${db//\"/\"\"}\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres-entrypoint: cluster made in $PGDATA (user $user, database $db)"
fi
exec postgres -D "$PGDATA" "$@"
