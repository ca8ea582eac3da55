#!/usr/bin/env bash
# Nightly pg_dump (custom format) of the CoinPilot database in the TimescaleDB container, written
# atomically with a .sha256 into $BACKUP_ROOT/postgres/, then retention. See lib.sh for the shared
# variables. Credentials come from the Compose .env (ENV_FILE): POSTGRES_USER (default postgres),
# POSTGRES_DB (default: POSTGRES_USER, as in the postgres image) and POSTGRES_PASSWORD (optional:
# inside the container the local socket is trusted).
#   PG_DUMP_CMD  command prefix that runs pg_dump (default: docker exec -e PGPASSWORD coinpilot-db pg_dump)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

backup_init postgres dump
load_env POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
# `docker exec -e PGPASSWORD` copies the value from our environment without putting it on a
# command line that `ps` would show.
export PGPASSWORD=${POSTGRES_PASSWORD:-}
PG_DUMP_CMD=${PG_DUMP_CMD:-docker exec -e PGPASSWORD coinpilot-db pg_dump}
read -r -a pg_dump_cmd <<<"$PG_DUMP_CMD"

run_captured "pg_dump of database $POSTGRES_DB" "$BACKUP_TMP" \
    "${pg_dump_cmd[@]}" --format=custom --username="$POSTGRES_USER" --dbname="$POSTGRES_DB"
require_magic PGDMP
backup_commit
prune_backups
log INFO "postgres backup done"
