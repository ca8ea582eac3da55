#!/usr/bin/env bash
# Nightly pg_dump (custom format) of the CoinPilot database in the TimescaleDB container, written
# atomically with a .sha256 into $BACKUP_ROOT/postgres/, then retention. See lib.sh for the shared
# variables. Credentials come from the Compose .env (ENV_FILE), see load_postgres_env in lib.sh.
#   PG_DUMP_CMD  command prefix that runs pg_dump (default: docker exec -e PGPASSWORD coinpilot-db pg_dump)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

backup_init postgres dump
load_postgres_env
PG_DUMP_CMD=${PG_DUMP_CMD:-docker exec -e PGPASSWORD coinpilot-db pg_dump}
read -r -a pg_dump_cmd <<<"$PG_DUMP_CMD"

run_captured "pg_dump of database $POSTGRES_DB" "$BACKUP_TMP" \
    "${pg_dump_cmd[@]}" --format=custom --username="$POSTGRES_USER" --dbname="$POSTGRES_DB"
require_magic PGDMP
backup_commit
prune_backups
log INFO "postgres backup done"
