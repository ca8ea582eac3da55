#!/usr/bin/env bash
# Daily heartbeat of the backups' freshness: the newest backup of each kind must be younger than
# FRESH_HOURS (default 26: one day plus slack for the 03:05-03:25 schedule). All fresh: one INFO
# line and an "OK" heartbeat through ALERT_CMD, so a silent channel means the host or its cron is
# down. A stale or missing kind: one ERROR line, and lib.sh's exit handler sends the alert. See
# lib.sh for the other variables.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

FRESH_HOURS=${FRESH_HOURS:-26}
log_init backup_freshness
[[ $FRESH_HOURS =~ ^[1-9][0-9]*$ ]] || settings_error "FRESH_HOURS must be a whole number of hours >= 1 (got '$FRESH_HOURS')"
now=$(date +%s)
summary=()
stale=()
for kind in $BACKUP_KINDS; do
    dir="$BACKUP_ROOT/$kind"
    newest=""
    [[ -d $dir ]] && newest=$(list_backups "$dir" "$kind" | head -n 1)
    if [[ -z $newest ]]; then
        stale+=("$kind: no backup in $dir")
        continue
    fi
    age=$(((now - $(stat -c %Y -- "$dir/$newest")) / 3600))
    summary+=("$kind ${age}h ($newest)")
    if ((age >= FRESH_HOURS)); then
        stale+=("$kind: newest backup $newest is ${age}h old (limit ${FRESH_HOURS}h)")
    fi
done
if ((${#stale[@]})); then
    die "backups are STALE: ${stale[*]}"
fi
log INFO "backups fresh: ${summary[*]}; $(df -h --output=avail "$BACKUP_ROOT" | tail -n 1 | tr -d ' ') free on the backup volume"
if [[ -x $ALERT_CMD ]]; then
    "$ALERT_CMD" backup_freshness 0 "$LOG_FILE" </dev/null >/dev/null 2>&1 || log WARN "the heartbeat could not be posted (see the journal, tag coinpilot-alert)"
fi
