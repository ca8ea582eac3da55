#!/usr/bin/env bash
# Nightly consistent RDB snapshot of the CoinPilot redis: BGSAVE, wait until LASTSAVE moves past
# its old value with no save in progress, then copy the RDB file out of the container, check it
# like verify_backups.sh does (header, end marker, redis-check-rdb), and write it atomically with a
# .sha256 into $BACKUP_ROOT/redis/, then retention and the off-host copy. See lib.sh for the shared
# variables. REDIS_PASSWORD from the app's .env (optional) is passed as REDISCLI_AUTH.
#   REDIS_CLI         command prefix that runs redis-cli against the server
#                     (default: docker exec -e REDISCLI_AUTH coinpilot-redis redis-cli)
#   REDIS_FILE_CMD    command prefix that runs `cat` where the RDB file is; empty = locally
#                     (default: docker exec coinpilot-redis)
#   REDIS_SAVE_TIMEOUT seconds to wait for BGSAVE (default 300)
# Each redis-cli call is bounded by CALL_TIMEOUT and the copy by DUMP_TIMEOUT (lib.sh). A refused
# password stops the run at the first call (PING), whatever redis-cli prints first.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

backup_init redis rdb
load_env REDIS_PASSWORD
if [[ -n ${REDIS_PASSWORD:-} ]]; then
    export REDISCLI_AUTH=$REDIS_PASSWORD
fi
REDIS_CLI=${REDIS_CLI:-docker exec -e REDISCLI_AUTH coinpilot-redis redis-cli}
REDIS_FILE_CMD=${REDIS_FILE_CMD-docker exec coinpilot-redis}
REDIS_SAVE_TIMEOUT=${REDIS_SAVE_TIMEOUT:-300}
read -r -a redis_cli <<<"$REDIS_CLI"
read -r -a redis_file_cmd <<<"$REDIS_FILE_CMD"

# redis COMMAND...: runs one redis-cli command within CALL_TIMEOUT and prints its reply. Fails the
# run on: no answer in time, a connection error, a refused password (redis-cli says "AUTH failed"
# on stderr and then sends the command unauthenticated), or an error reply on any line (redis-cli
# exits 0 on those without a tty, so we read the text).
redis() {
    local reply errors status=0 line
    make_temp_file errors
    reply=$(run_bounded CALL_TIMEOUT "${redis_cli[@]}" "$@" </dev/null 2>"$errors") || status=$?
    if ((status == 124 || status == 137)); then
        die "redis-cli $1: no answer within CALL_TIMEOUT=${CALL_TIMEOUT}s (the bound on one redis call)"
    fi
    if grep -q 'AUTH failed' "$errors"; then
        die "redis-cli $1: the server refused the password (REDIS_PASSWORD from ${ENV_FILE:-the environment}): $(grep 'AUTH failed' "$errors" | head -n 1)"
    fi
    if ((status != 0)); then
        die "redis-cli $1 failed: $(cat -- "$errors") $reply"
    fi
    while IFS= read -r line; do
        if [[ $line =~ ^(ERR|NOAUTH|WRONGPASS|NOPERM|LOADING|MISCONF|BUSY|MASTERDOWN|READONLY)([[:space:]]|$) || $line == *"Could not connect"* ]]; then
            die "redis-cli $1 failed: $line"
        fi
    done <<<"$reply"
    printf '%s\n' "$reply"
}

# persistence_field NAME: one field of INFO persistence.
persistence_field() {
    redis INFO persistence | tr -d '\r' | sed -n "s/^$1://p"
}

# wait_for_save AFTER: waits until no background save runs and LASTSAVE is past AFTER. Replies are
# assigned before they are tested, so a redis error stops the script instead of looking like "0".
wait_for_save() {
    local after=$1 deadline=$((SECONDS + REDIS_SAVE_TIMEOUT)) running saved
    while true; do
        running=$(persistence_field rdb_bgsave_in_progress)
        saved=$(redis LASTSAVE)
        [[ $running == 0 ]] && ((saved > after)) && return 0
        ((SECONDS < deadline)) || die "no finished background save after REDIS_SAVE_TIMEOUT=${REDIS_SAVE_TIMEOUT}s (in progress: $running, LASTSAVE: $saved)"
        sleep 0.2
    done
}

pong=$(redis PING)
[[ $pong == PONG ]] || die "redis-cli PING answered '$pong' instead of PONG"
# Keys in every database (INFO keyspace: dbN:keys=K,expires=...), not only db0's DBSIZE.
keyspace=$(redis INFO keyspace | tr -d '\r' | sed -n 's/^\(db[0-9]*\):keys=\([0-9]*\),.*/\1 \2/p')
keys=0
per_db=()
while read -r db count; do
    [[ -n $db ]] || continue
    keys=$((keys + count))
    per_db+=("$db: $count")
done <<<"$keyspace"
wait_for_save 0
before=$(redis LASTSAVE)
# LASTSAVE has one-second resolution: start our save in a later second than the previous one so
# that its completion is visible as a change.
while true; do
    now=$(redis TIME)
    now=${now%%$'\n'*}
    ((now > before)) && break
    sleep 0.1
done
redis BGSAVE >/dev/null
wait_for_save "$before"
status=$(persistence_field rdb_last_bgsave_status)
[[ $status == ok ]] || die "BGSAVE failed: rdb_last_bgsave_status is '$status' (see the redis log)"

rdb_dir=$(redis CONFIG GET dir | sed -n 2p)
rdb_file=$(redis CONFIG GET dbfilename | sed -n 2p)
run_captured "copying $rdb_dir/$rdb_file" "$BACKUP_TMP" DUMP_TIMEOUT "${redis_file_cmd[@]}" cat -- "$rdb_dir/$rdb_file"
require_magic REDIS
require_format
backup_commit
((${#per_db[@]})) || per_db=("every database is empty")
summary=$(printf '%s, ' "${per_db[@]}")
log INFO "redis snapshot holds $keys keys (${summary%, })"
prune_backups
offsite_sync
log INFO "redis backup done"
