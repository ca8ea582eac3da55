#!/usr/bin/env bash
# Nightly consistent RDB snapshot of the CoinPilot redis: BGSAVE, wait until LASTSAVE moves past
# its old value with no save in progress, then copy the RDB file out of the container, written
# atomically with a .sha256 into $BACKUP_ROOT/redis/, then retention. See lib.sh for the shared
# variables. REDIS_PASSWORD from the app's .env (optional) is passed as REDISCLI_AUTH.
#   REDIS_CLI         command prefix that runs redis-cli against the server
#                     (default: docker exec -e REDISCLI_AUTH coinpilot-redis redis-cli)
#   REDIS_FILE_CMD    command prefix that runs `cat` where the RDB file is; empty = locally
#                     (default: docker exec coinpilot-redis)
#   REDIS_SAVE_TIMEOUT seconds to wait for BGSAVE (default 300)
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

# redis: runs one redis-cli command and prints its reply; a connection error or an error reply
# (redis-cli exits 0 on those without a tty, so we look at the text) fails the run.
redis() {
    local reply
    reply=$("${redis_cli[@]}" "$@" 2>&1) || die "redis-cli $1 failed: $reply"
    [[ $reply == ERR* || $reply == *"Could not connect"* || $reply == NOAUTH* || $reply == WRONGPASS* || $reply == LOADING* ]] &&
        die "redis-cli $1 failed: $reply"
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
        ((SECONDS < deadline)) || die "no finished background save after ${REDIS_SAVE_TIMEOUT}s (in progress: $running, LASTSAVE: $saved)"
        sleep 0.2
    done
}

keys=$(redis DBSIZE)
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
run_captured "copying $rdb_dir/$rdb_file" "$BACKUP_TMP" "${redis_file_cmd[@]}" cat -- "$rdb_dir/$rdb_file"
require_magic REDIS
backup_commit
log INFO "redis snapshot holds $keys keys"
prune_backups
log INFO "redis backup done"
