#!/usr/bin/env bash
# Daily catch-up of the off-host copy: each backup script uploads its own backup right after
# writing it; this job uploads whatever a failed upload left behind (a retained backup without its
# .<name>.uploaded marker), kind by kind under that kind's lock, so it never races a backup. Exits
# non-zero, with one ERROR line, if any upload fails; the local backups are never touched. Does
# nothing when no off-host copy is configured (OFFSITE_URL_FILE missing). See lib.sh for the
# variables (OFFSITE_*).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

log_init offsite_upload
if [[ ! -e $OFFSITE_URL_FILE ]]; then
    log INFO "off-host copy: not configured ($OFFSITE_URL_FILE does not exist); nothing to upload"
    exit 0
fi
failed=()
reasons=()
for kind in $BACKUP_KINDS; do
    case $kind in
        postgres | redis | n8n) ;;
        *) die "unknown kind '$kind' in BACKUP_KINDS" ;;
    esac
    KIND=$kind
    KIND_DIR="$BACKUP_ROOT/$kind"
    [[ -d $KIND_DIR ]] || continue
    note="$RUN_TMP/$kind.failed"
    # One kind at a time, in a part of its own: its lock, and a failure that reports to the summary.
    (
        begin_part "$note"
        if ! take_lock "$KIND_DIR" "$kind backup" try; then
            log INFO "$kind: a $kind backup is running; it uploads its own backups"
            exit 0
        fi
        offsite_sync
    ) &
    part=$!
    CHILD_PIDS=("$part")
    if ! wait "$part"; then
        failed+=("$kind")
        reasons+=("$(head -n 1 "$note" 2>/dev/null || echo "$kind: failed without a reason (see the lines above)")")
    fi
    CHILD_PIDS=()
done
((${#failed[@]} == 0)) || die "off-host upload FAILED for: ${failed[*]} (${reasons[*]}); the local backups are kept"
log INFO "off-host upload: nothing left to upload for: $BACKUP_KINDS"
