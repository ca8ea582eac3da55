#!/usr/bin/env bash
# Nightly pg_dump (custom format) of the CoinPilot database in the TimescaleDB container, written
# atomically with a .sha256 into $BACKUP_ROOT/postgres/, checked like verify_backups.sh checks it
# (pg_restore reads it to the end), then retention and the off-host copy. See lib.sh for the shared
# variables. Credentials come from the Compose .env (ENV_FILE), see load_postgres_env in lib.sh.
#   PG_DUMP_CMD  command prefix that runs pg_dump
#                (default: docker exec -e PGPASSWORD -e PGCONNECT_TIMEOUT coinpilot-db pg_dump)
# pg_dump runs within two bounds: CONNECT_TIMEOUT for the connection (a server that accepts it but
# never answers) and DUMP_TIMEOUT for the whole dump (a query that never returns, e.g. stuck
# behind a lock). The log says which one ran out.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

backup_init postgres dump
load_postgres_env
PG_DUMP_CMD=${PG_DUMP_CMD:-docker exec -e PGPASSWORD -e PGCONNECT_TIMEOUT coinpilot-db pg_dump}
read -r -a pg_dump_cmd <<<"$PG_DUMP_CMD"

run_captured "pg_dump of database $POSTGRES_DB" "$BACKUP_TMP" DUMP_TIMEOUT \
    "${pg_dump_cmd[@]}" --format=custom --username="$POSTGRES_USER" --dbname="$POSTGRES_DB"
require_magic PGDMP
require_format
backup_commit
prune_backups
offsite_sync
log INFO "postgres backup done"
