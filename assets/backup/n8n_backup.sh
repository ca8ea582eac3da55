#!/usr/bin/env bash
# Nightly archive of the n8n data directory (/home/node/.n8n in the coinpilot-n8n volume: the
# SQLite database with workflows and credentials, and the config holding the key that decrypts
# those credentials; the two are only useful together), written atomically with a .sha256 into
# $BACKUP_ROOT/n8n/, then retention and the off-host copy. See lib.sh for the shared variables.
#
# n8n keeps writing database.sqlite and its -wal while it runs, and files copied one after the
# other could disagree (a torn database no gzip test notices). So the container is paused (cgroup
# freezer) for the copy: every file is read as of one instant, a crash-consistent snapshot that
# SQLite recovers from like after a power cut. The exit handler unpauses it on every way out,
# failures and signals included. `docker exec` refuses a paused container, so tar runs on the host,
# in the volume's directory. docker calls are bounded by CALL_TIMEOUT, the copy by DUMP_TIMEOUT.
#   N8N_DOCKER     docker command prefix for inspect/pause/unpause (default: docker)
#   N8N_CONTAINER  the n8n container (default: coinpilot-n8n)
#   N8N_DATA_DIR   the data directory as the host sees it (default: the source of the container's
#                  /home/node/.n8n mount, from `docker inspect`)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

backup_init n8n tar.gz
N8N_DOCKER=${N8N_DOCKER:-docker}
N8N_CONTAINER=${N8N_CONTAINER:-coinpilot-n8n}
read -r -a docker <<<"$N8N_DOCKER"

# docker_call VAR ARGS...: runs docker ARGS within CALL_TIMEOUT, its output (stdout and stderr) in VAR.
docker_call() {
    local -n _docker_reply=$1
    shift
    local status=0
    _docker_reply=$(run_bounded CALL_TIMEOUT "${docker[@]}" "$@" </dev/null 2>&1) || status=$?
    if ((status == 124 || status == 137)); then
        _docker_reply="no answer within CALL_TIMEOUT=${CALL_TIMEOUT}s (the bound on one docker call) ${_docker_reply}"
    fi
    return "$status"
}

inspected=""
docker_call inspected inspect --format \
    '{{.State.Status}} {{range .Mounts}}{{if eq .Destination "/home/node/.n8n"}}{{.Source}}{{end}}{{end}}' \
    "$N8N_CONTAINER" || die "cannot inspect $N8N_CONTAINER: $inspected"
read -r state mount_source <<<"$inspected"
N8N_DATA_DIR=${N8N_DATA_DIR:-$mount_source}
[[ -n $N8N_DATA_DIR ]] || die "$N8N_CONTAINER has no volume at /home/node/.n8n (set N8N_DATA_DIR)"

frozen=false
THAW_PROBLEM=""
# thaw: unpauses the container if this run paused it; fails (keeping the reason) if it cannot.
thaw() {
    if $frozen; then
        frozen=false
        local out=""
        if ! docker_call out unpause "$N8N_CONTAINER"; then
            THAW_PROBLEM="could not unpause $N8N_CONTAINER, n8n stays frozen until it is: $out"
            log FAIL "$THAW_PROBLEM"
            return 1
        fi
        log INFO "unpaused $N8N_CONTAINER"
    fi
}
at_exit 'thaw || true'

if [[ $state == running ]]; then
    out=""
    docker_call out pause "$N8N_CONTAINER" || die "could not pause $N8N_CONTAINER: $out"
    frozen=true
    log INFO "paused $N8N_CONTAINER for the copy"
else
    # Stopped (or paused by someone else, whose pause we leave alone): nothing writes, copy as is.
    log WARN "$N8N_CONTAINER is ${state:-unknown}, not running: archiving its data without pausing it"
fi
run_captured "archiving the n8n data" "$BACKUP_TMP" DUMP_TIMEOUT tar -C "$N8N_DATA_DIR" -czf - .
thaw || die "$THAW_PROBLEM; nothing was published"
# Reads the whole stream and lists the tar: a truncated or damaged archive fails here, not on the
# day of a restore.
require_format
backup_commit
prune_backups
offsite_sync
log INFO "n8n backup done"
