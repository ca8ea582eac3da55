#!/usr/bin/env bash
# Weekly proof that the newest backups restore. For each kind in BACKUP_KINDS it verifies the
# newest backup's checksum, then:
#   postgres  restores it into the scratch database coinpilot_restore_check, checks that tables
#             exist and that each key table (REHEARSAL_TABLES) has rows, reports row counts and the
#             newest timestamp, and drops the scratch database (also on failure);
#   redis     loads it into a throwaway redis-server on REHEARSAL_REDIS_PORT and reports its keys;
#   n8n       lists the archive (reading the whole gzip stream), extracts database.sqlite (with its
#             -wal) and runs sqlite3's PRAGMA integrity_check on it (sqlite3 runs on the host).
# One rehearsal runs at a time (a lock on BACKUP_ROOT): a second one would drop the first one's
# scratch database and kill its restore. Exits non-zero if any kind fails, with one ERROR line that
# names each failed kind and why. See lib.sh for the shared variables; besides those:
#   PSQL_CMD                   psql prefix (default: docker exec -i -e PGPASSWORD -e PGCONNECT_TIMEOUT coinpilot-db psql)
#   REHEARSAL_TABLES           tables that must be restored non-empty (default: daily_risk_state)
#   REHEARSAL_REDIS_CLI        redis-cli prefix that reaches the loopback where REHEARSAL_REDIS_EXEC runs
#                              (default: docker exec coinpilot-redis redis-cli)
#   REHEARSAL_REDIS_PORT       port of the throwaway redis (default 6390)
#   REHEARSAL_TIMEOUT          seconds to wait for the throwaway redis to load (default 120); it is
#                              stopped after DUMP_TIMEOUT at the latest, even if this run was killed
# Queries and pg_restore are bounded by DUMP_TIMEOUT, redis-cli calls by CALL_TIMEOUT (lib.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

log_init restore_rehearsal
readonly SCRATCH_DB=coinpilot_restore_check
REHEARSAL_TIMEOUT=${REHEARSAL_TIMEOUT:-120}
mkdir -p -- "$BACKUP_ROOT"
take_lock "$BACKUP_ROOT" "restore rehearsal"

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
    PSQL_CMD=${PSQL_CMD:-docker exec -i -e PGPASSWORD -e PGCONNECT_TIMEOUT coinpilot-db psql}
    read -r -a psql_cmd <<<"$PSQL_CMD"
    read -r -a pg_restore_cmd <<<"$PG_RESTORE_CMD"
    local tables=${REHEARSAL_TABLES:-daily_risk_state}

    local name file
    name=$(newest_verified postgres)
    file="$BACKUP_ROOT/postgres/$name"

    # query DB SQL: prints the unaligned result; any SQL error fails with the server's message.
    query() {
        local out status=0
        out=$(run_bounded DUMP_TIMEOUT "${psql_cmd[@]}" -X -q -A -t -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname="$1" -c "$2" </dev/null 2>&1) || status=$?
        if ((status == 124 || status == 137)); then
            die "postgres: query on $1 timed out: no result within DUMP_TIMEOUT=${DUMP_TIMEOUT}s"
        elif [[ $out == *"timeout expired"* ]]; then
            die "postgres: could not connect to $1 within CONNECT_TIMEOUT=${PGCONNECT_TIMEOUT}s (PGCONNECT_TIMEOUT): $out"
        elif ((status != 0)); then
            die "postgres: query on $1 failed: $out"
        fi
        printf '%s\n' "$out"
    }
    query "$POSTGRES_DB" "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null
    query "$POSTGRES_DB" "CREATE DATABASE $SCRATCH_DB" >/dev/null
    # Runs before the lock is released, so the next rehearsal never meets our scratch database.
    # shellcheck disable=SC2016 # expanded when the hook runs
    at_exit 'query "$POSTGRES_DB" "DROP DATABASE IF EXISTS $SCRATCH_DB WITH (FORCE)" >/dev/null'

    # A TimescaleDB dump must be restored between timescaledb_pre_restore() and _post_restore().
    local contents timescale=false
    make_temp_file contents
    run_captured "postgres: reading the table of contents of $name" "$contents" DUMP_TIMEOUT "${pg_restore_cmd[@]}" --list <"$file"
    if grep -q 'EXTENSION - timescaledb' "$contents"; then
        timescale=true
        query "$SCRATCH_DB" "CREATE EXTENSION IF NOT EXISTS timescaledb; SELECT timescaledb_pre_restore()" >/dev/null
    fi
    run_captured "postgres: pg_restore of $name" /dev/null DUMP_TIMEOUT \
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

# server_log_cause LOG: the lines of a redis-server log that say why it stopped (the warnings and
# errors, not the banner or redis-check-rdb's closing summary), the last few of them.
server_log_cause() {
    local cause
    cause=$(grep -E '(Unexpected|Short read|Unrecoverable|Wrong|Bad |Bad$|Error|error|ERROR|Fatal|FATAL|Failed|failed|Can.t|refus|aborting|Terminating|corrupt|not supported)' -- "$1" |
        grep -vE 'Memory overcommit|oO0OoO0' | tail -n 4 | tr '\n' ' ') || true
    printf '%s' "${cause:-$(tail -n 5 -- "$1" | tr '\n' ' ')}"
}

rehearse_redis() {
    REHEARSAL_REDIS_CLI=${REHEARSAL_REDIS_CLI:-docker exec coinpilot-redis redis-cli}
    # Not local: the exit hook below still needs them after this function returns.
    port=${REHEARSAL_REDIS_PORT:-6390}
    read -r -a redis_exec <<<"$REHEARSAL_REDIS_EXEC"
    read -r -a redis_cli <<<"$REHEARSAL_REDIS_CLI"

    local name work
    name=$(newest_verified redis)
    make_temp_dir work
    # The RDB goes in on stdin so the same command works inside the container; the server loads it
    # from a private temp dir with persistence off and the dir is removed once it stops. It is
    # bounded by DUMP_TIMEOUT inside its own place, so a killed rehearsal cannot leave it running.
    # shellcheck disable=SC2016 # expanded by the inner sh, not here
    "${redis_exec[@]}" sh -c 'd=$(mktemp -d) && cat >"$d/dump.rdb" || exit 1
        bound=""; if command -v timeout >/dev/null; then bound="timeout $2"; fi
        $bound redis-server --port "$1" --bind 127.0.0.1 --dir "$d" --dbfilename dump.rdb --save "" --appendonly no
        status=$?; rm -rf "$d"; exit $status' sh "$port" "$DUMP_TIMEOUT" \
        <"$BACKUP_ROOT/redis/$name" >"$work/server.log" 2>&1 &
    server=$!
    # Every step may fail (the server may be gone already).
    # shellcheck disable=SC2016 # expanded when the hook runs
    at_exit 'run_bounded CALL_TIMEOUT "${redis_cli[@]}" -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 </dev/null || kill "$server" 2>/dev/null
        wait "$server"'

    local reply deadline=$((SECONDS + REHEARSAL_TIMEOUT))
    until reply=$(run_bounded CALL_TIMEOUT "${redis_cli[@]}" -p "$port" PING </dev/null 2>&1) && [[ $reply == PONG ]]; do
        kill -0 "$server" 2>/dev/null ||
            die "redis: the throwaway redis-server refused $name: $(server_log_cause "$work/server.log")"
        ((SECONDS < deadline)) || die "redis: $name did not load within REHEARSAL_TIMEOUT=${REHEARSAL_TIMEOUT}s (last reply: $reply)"
        sleep 0.2
    done
    log INFO "redis: $name loaded into a throwaway redis on port $port: $(run_bounded CALL_TIMEOUT "${redis_cli[@]}" -p "$port" DBSIZE </dev/null) keys"
}

rehearse_n8n() {
    local name archive work entries member result
    local -a members=()
    name=$(newest_verified n8n)
    archive="$BACKUP_ROOT/n8n/$name"
    make_temp_dir work
    run_captured "n8n: listing $name" "$work/list" DUMP_TIMEOUT tar -tzf "$archive"
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
    run_captured "n8n: extracting the database from $name" /dev/null DUMP_TIMEOUT tar -xzf "$archive" -C "$work/db" -- "${members[@]}"
    result=$(run_bounded DUMP_TIMEOUT sqlite3 "$work/db/database.sqlite" 'PRAGMA integrity_check' </dev/null 2>&1) || true
    [[ $result == ok ]] ||
        die "n8n: database.sqlite in $name FAILED PRAGMA integrity_check: $(head -n 5 <<<"$result" | tr '\n' ' ')"
    log INFO "n8n: database.sqlite in $name passes PRAGMA integrity_check ($(sqlite3 "$work/db/database.sqlite" \
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'") tables)"
}

failed=()
reasons=()
for kind in $BACKUP_KINDS; do
    case $kind in
        postgres | redis | n8n) ;;
        *) die "unknown kind '$kind' in BACKUP_KINDS" ;;
    esac
    note="$RUN_TMP/$kind.failed"
    # Run in the background and wait: a subshell in an if/|| list would silently ignore set -e.
    # Its own exit hooks (scratch database, throwaway redis) run when it ends; its failure is a
    # FAIL line, and the summary below is the run's one ERROR line.
    (
        begin_part "$note"
        "rehearse_$kind"
    ) &
    part=$!
    CHILD_PIDS=("$part")
    if wait "$part"; then
        log INFO "$kind: rehearsal passed"
    else
        log FAIL "$kind: rehearsal FAILED"
        failed+=("$kind")
        reasons+=("$(head -n 1 "$note" 2>/dev/null || echo "$kind: failed without a reason (see the lines above)")")
    fi
    CHILD_PIDS=()
done
((${#failed[@]} == 0)) || die "restore rehearsal FAILED for: ${failed[*]} (${reasons[*]})"
log INFO "restore rehearsal passed for: $BACKUP_KINDS"
