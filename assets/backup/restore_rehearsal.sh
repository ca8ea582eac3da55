#!/usr/bin/env bash
# Weekly proof that the newest backups restore. For each kind in BACKUP_KINDS it verifies the
# newest backup's checksum, then:
#   postgres  restores it into the scratch database coinpilot_restore_check, checks that tables
#             exist and that each key table (REHEARSAL_TABLES) has rows, reports row counts and the
#             newest timestamp, and drops the scratch database (also on failure);
#   redis     loads it into a throwaway redis-server on REHEARSAL_REDIS_PORT and reports its keys;
#   n8n       lists the archive (reading the whole gzip stream), extracts database.sqlite (with its
#             -wal) and runs sqlite3's PRAGMA integrity_check on it (sqlite3 runs on the host).
# Exits non-zero if any kind fails. See lib.sh for the shared variables; besides those:
#   PSQL_CMD, PG_RESTORE_CMD   command prefixes (default: docker exec -i -e PGPASSWORD coinpilot-db psql|pg_restore)
#   REHEARSAL_TABLES           tables that must be restored non-empty (default: daily_risk_state)
#   REHEARSAL_REDIS_EXEC       prefix that runs `sh` where redis-server is; empty = locally
#                              (default: docker exec -i coinpilot-redis, same version as production)
#   REHEARSAL_REDIS_CLI        redis-cli prefix that reaches that place's loopback
#                              (default: docker exec coinpilot-redis redis-cli)
#   REHEARSAL_REDIS_PORT       port of the throwaway redis (default 6390)
#   REHEARSAL_TIMEOUT          seconds to wait for the throwaway redis to load (default 120)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

log_init restore_rehearsal
readonly SCRATCH_DB=coinpilot_restore_check
REHEARSAL_TIMEOUT=${REHEARSAL_TIMEOUT:-120}

# newest_verified KIND: prints the newest backup of KIND after checking its checksum.
newest_verified() {
    local dir="$BACKUP_ROOT/$1" problem
    local -a names=()
    if [[ -d $dir ]]; then
        mapfile -t names < <(list_backups "$dir" "$1")
    fi
    ((${#names[@]})) || die "$1: no backup in $dir"
    problem=$(verify_backup "$dir" "${names[0]}") || die "$1: $problem; refusing to restore it"
    log INFO "$1: ${names[0]} matches its checksum"
    printf '%s\n' "${names[0]}"
}

rehearse_postgres() {
    load_postgres_env
    PSQL_CMD=${PSQL_CMD:-docker exec -i -e PGPASSWORD coinpilot-db psql}
    PG_RESTORE_CMD=${PG_RESTORE_CMD:-docker exec -i -e PGPASSWORD coinpilot-db pg_restore}
    read -r -a psql_cmd <<<"$PSQL_CMD"
    read -r -a pg_restore_cmd <<<"$PG_RESTORE_CMD"
    local tables=${REHEARSAL_TABLES:-daily_risk_state}

    local name file
    name=$(newest_verified postgres)
    file="$BACKUP_ROOT/postgres/$name"

    # query DB SQL: prints the unaligned result; any SQL error fails with the server's message.
    query() {
        local out
        out=$("${psql_cmd[@]}" -X -q -A -t -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$1" -c "$2" 2>&1) ||
            die "postgres: query on $1 failed: $out"
        printf '%s\n' "$out"
    }
    query "$POSTGRES_DB" "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null
    query "$POSTGRES_DB" "CREATE DATABASE $SCRATCH_DB" >/dev/null
    # Cleanup first: errexit applies inside a trap, so a failing drop would skip what follows.
    trap 'cleanup_temp_paths; query "$POSTGRES_DB" "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null' EXIT

    # A TimescaleDB dump must be restored between timescaledb_pre_restore() and _post_restore().
    local contents timescale=false
    contents=$("${pg_restore_cmd[@]}" --list <"$file" 2>&1) || die "postgres: $name is not a readable dump: $contents"
    if grep -q 'EXTENSION - timescaledb' <<<"$contents"; then
        timescale=true
        query "$SCRATCH_DB" "CREATE EXTENSION IF NOT EXISTS timescaledb; SELECT timescaledb_pre_restore()" >/dev/null
    fi
    run_captured "postgres: pg_restore of $name" /dev/null \
        "${pg_restore_cmd[@]}" --no-owner --no-privileges --exit-on-error \
        --username="$POSTGRES_USER" --dbname="$SCRATCH_DB" <"$file"
    if $timescale; then
        query "$SCRATCH_DB" "SELECT timescaledb_post_restore()" >/dev/null
    fi

    local user_tables
    user_tables=$(query "$SCRATCH_DB" "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
          AND table_schema !~ '^_?timescaledb' ORDER BY 1")
    [[ -n $user_tables ]] || die "postgres: $name restored no tables"
    local table rows newest column
    while read -r table; do
        log INFO "postgres: $table has $(query "$SCRATCH_DB" "SELECT count(*) FROM $table") rows"
    done <<<"$user_tables"
    for table in $tables; do
        [[ $table =~ ^[a-z_][a-z0-9_]*$ ]] || die "postgres: REHEARSAL_TABLES entry '$table' is not a plain table name"
        [[ $(query "$SCRATCH_DB" "SELECT to_regclass('public.$table') IS NOT NULL") == t ]] ||
            die "postgres: key table $table is missing from the restored $name"
        rows=$(query "$SCRATCH_DB" "SELECT count(*) FROM public.$table")
        ((rows > 0)) || die "postgres: key table $table is empty in the restored $name"
        column=$(query "$SCRATCH_DB" "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'
            AND table_name = '$table' AND data_type LIKE 'timestamp%' ORDER BY ordinal_position LIMIT 1")
        newest=none
        if [[ -n $column ]]; then
            newest=$(query "$SCRATCH_DB" "SELECT max(\"$column\") FROM public.$table")
        fi
        log INFO "postgres: key table $table: $rows rows, newest ${column:-timestamp}: $newest"
    done
    log INFO "postgres: $name restored into $SCRATCH_DB and checked; dropping it"
}

rehearse_redis() {
    REHEARSAL_REDIS_EXEC=${REHEARSAL_REDIS_EXEC-docker exec -i coinpilot-redis}
    REHEARSAL_REDIS_CLI=${REHEARSAL_REDIS_CLI:-docker exec coinpilot-redis redis-cli}
    # Not local: the EXIT trap below still needs them after this function returns.
    port=${REHEARSAL_REDIS_PORT:-6390}
    read -r -a redis_exec <<<"$REHEARSAL_REDIS_EXEC"
    read -r -a redis_cli <<<"$REHEARSAL_REDIS_CLI"

    local name work
    name=$(newest_verified redis)
    make_temp_dir work
    # The RDB goes in on stdin so the same command works inside the container; the server loads it
    # from a private temp dir with persistence off and the dir is removed once it stops.
    # shellcheck disable=SC2016 # expanded by the inner sh, not here
    "${redis_exec[@]}" sh -c 'd=$(mktemp -d) && cat >"$d/dump.rdb" || exit 1
        redis-server --port "$1" --bind 127.0.0.1 --dir "$d" --dbfilename dump.rdb --save "" --appendonly no
        status=$?; rm -rf "$d"; exit $status' sh "$port" \
        <"$BACKUP_ROOT/redis/$name" >"$work/server.log" 2>&1 &
    server=$!
    # Every step may fail (the server may be gone already); errexit applies inside a trap.
    trap '"${redis_cli[@]}" -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$server" 2>/dev/null || true
        wait "$server" || true
        cleanup_temp_paths' EXIT

    local reply deadline=$((SECONDS + REHEARSAL_TIMEOUT))
    until reply=$("${redis_cli[@]}" -p "$port" PING 2>&1) && [[ $reply == PONG ]]; do
        kill -0 "$server" 2>/dev/null ||
            die "redis: the throwaway redis-server refused $name: $(tail -n 5 -- "$work/server.log" | tr '\n' ' ')"
        ((SECONDS < deadline)) || die "redis: $name did not load within ${REHEARSAL_TIMEOUT}s (last reply: $reply)"
        sleep 0.2
    done
    log INFO "redis: $name loaded into a throwaway redis on port $port: $("${redis_cli[@]}" -p "$port" DBSIZE) keys"
}

rehearse_n8n() {
    local name archive work entries member result
    local -a members=()
    name=$(newest_verified n8n)
    archive="$BACKUP_ROOT/n8n/$name"
    make_temp_dir work
    run_captured "n8n: listing $name" "$work/list" tar -tzf "$archive"
    entries=$(wc -l <"$work/list")
    ((entries > 0)) || die "n8n: $name is an empty archive"
    log INFO "n8n: $name lists $entries entries"

    # The database with its WAL (committed rows may live only there); a stale -shm is left out,
    # SQLite rebuilds it. Checked on the host: the n8n image ships no sqlite3.
    command -v sqlite3 >/dev/null || die "n8n: sqlite3 is missing on this host (apt-get install sqlite3)"
    for member in ./database.sqlite ./database.sqlite-wal; do
        if grep -qxF -- "$member" "$work/list"; then
            members+=("$member")
        fi
    done
    [[ ${members[0]:-} == ./database.sqlite ]] || die "n8n: $name holds no database.sqlite"
    mkdir -- "$work/db"
    run_captured "n8n: extracting the database from $name" /dev/null tar -xzf "$archive" -C "$work/db" -- "${members[@]}"
    result=$(sqlite3 "$work/db/database.sqlite" 'PRAGMA integrity_check' 2>&1) || true
    [[ $result == ok ]] ||
        die "n8n: database.sqlite in $name FAILED PRAGMA integrity_check: $(head -n 5 <<<"$result" | tr '\n' ' ')"
    log INFO "n8n: database.sqlite in $name passes PRAGMA integrity_check ($(sqlite3 "$work/db/database.sqlite" \
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'") tables)"
}

failed=()
for kind in $BACKUP_KINDS; do
    case $kind in
        postgres | redis | n8n) ;;
        *) die "unknown kind '$kind' in BACKUP_KINDS" ;;
    esac
    # Run in the background and wait: a subshell in an if/|| list would silently ignore set -e.
    (
        trap cleanup_temp_paths EXIT
        "rehearse_$kind"
    ) &
    if wait "$!"; then
        log INFO "$kind: rehearsal passed"
    else
        log ERROR "$kind: rehearsal FAILED"
        failed+=("$kind")
    fi
done
((${#failed[@]} == 0)) || die "restore rehearsal FAILED for: ${failed[*]}"
log INFO "restore rehearsal passed for: $BACKUP_KINDS"
