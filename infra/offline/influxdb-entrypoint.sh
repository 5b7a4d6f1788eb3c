#!/bin/bash
# Entry point of the offline influxdb image (infra/offline/Dockerfile).
# influxd reads INFLUXDB_<SECTION>_<KEY> settings from the environment
# itself; INFLUXDB_DB, as in the official influxdb:1.8 image, names a
# database created at start: influxd runs once in the background until it
# answers, the database is created (CREATE DATABASE does nothing when it
# exists), then influxd runs in the foreground. Arguments go to influxd.
set -euo pipefail
conf=/etc/influxdb/influxdb.conf

if [[ -n ${INFLUXDB_DB:-} ]]; then
    influxd run -config "$conf" >/tmp/influxd-init.log 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
        if influx -execute 'SHOW DATABASES' >/dev/null 2>&1; then break; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat /tmp/influxd-init.log >&2
            exit 1
        fi
        sleep 0.5
    done
    name=${INFLUXDB_DB//\"/\\\"}
    influx -execute "CREATE DATABASE \"$name\""
    kill "$pid"
    wait "$pid" || true
fi
exec influxd run -config "$conf" "$@"
