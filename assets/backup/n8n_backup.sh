#!/usr/bin/env bash
# Nightly archive of the n8n data directory (/home/node/.n8n in the coinpilot-n8n volume: the
# SQLite database with workflows and credentials, and the config holding the key that decrypts
# those credentials; the two are only useful together), written atomically with a .sha256 into
# $BACKUP_ROOT/n8n/, then retention. See lib.sh for the shared variables.
#
# n8n keeps writing database.sqlite and its -wal while it runs, and files copied one after the
# other could disagree (a torn database no gzip test notices). So the container is paused (cgroup
# freezer) for the copy: every file is read as of one instant, a crash-consistent snapshot that
# SQLite recovers from like after a power cut. The EXIT trap unpauses it on every way out, failures
# and signals included. `docker exec` refuses a paused container, so tar runs on the host, in the
# volume's directory.
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

inspected=$("${docker[@]}" inspect --format \
    '{{.State.Status}} {{range .Mounts}}{{if eq .Destination "/home/node/.n8n"}}{{.Source}}{{end}}{{end}}' \
    "$N8N_CONTAINER" 2>&1) || die "cannot inspect $N8N_CONTAINER: $inspected"
read -r state mount_source <<<"$inspected"
N8N_DATA_DIR=${N8N_DATA_DIR:-$mount_source}
[[ -n $N8N_DATA_DIR ]] || die "$N8N_CONTAINER has no volume at /home/node/.n8n (set N8N_DATA_DIR)"

frozen=false
# thaw: unpauses the container if this run paused it; fails (with a logged error) if it cannot.
thaw() {
    if $frozen; then
        frozen=false
        local out
        out=$("${docker[@]}" unpause "$N8N_CONTAINER" 2>&1) || {
            log ERROR "could not unpause $N8N_CONTAINER, n8n stays frozen until it is: $out"
            return 1
        }
        log INFO "unpaused $N8N_CONTAINER"
    fi
}
# Cleanup first: the trap must not stop half way if the unpause fails.
trap 'cleanup_temp_paths; thaw || true' EXIT

if [[ $state == running ]]; then
    out=$("${docker[@]}" pause "$N8N_CONTAINER" 2>&1) || die "could not pause $N8N_CONTAINER: $out"
    frozen=true
    log INFO "paused $N8N_CONTAINER for the copy"
else
    # Stopped (or paused by someone else, whose pause we leave alone): nothing writes, copy as is.
    log WARN "$N8N_CONTAINER is ${state:-unknown}, not running: archiving its data without pausing it"
fi
run_captured "archiving the n8n data" "$BACKUP_TMP" tar -C "$N8N_DATA_DIR" -czf - .
thaw || die "n8n backup aborted: $N8N_CONTAINER could not be unpaused"
# Reads the whole stream: a truncated or damaged archive fails here, not on the day of a restore.
run_captured "checking the n8n archive" /dev/null gzip -t -- "$BACKUP_TMP"
backup_commit
prune_backups
log INFO "n8n backup done"
