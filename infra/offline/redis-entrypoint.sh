#!/bin/sh
# Entry point of the offline redis image (infra/offline/Dockerfile). The
# official redis image runs with protected mode off, so that clients on the
# compose network connect without a password in development (production sets
# --requirepass); Debian's redis-server has it on, which would refuse them.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
