#!/usr/bin/env bash
# Checks every retained backup of every kind against its .sha256 (bit rot, truncation, a missing
# checksum) and fails if any is bad or a kind has no backup at all. See lib.sh for the variables.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

log_init verify_backups
bad=0
for kind in $BACKUP_KINDS; do
    dir="$BACKUP_ROOT/$kind"
    names=()
    if [[ -d $dir ]]; then
        mapfile -t names < <(list_backups "$dir" "$kind")
    fi
    if ((${#names[@]} == 0)); then
        log ERROR "$kind: no backup in $dir"
        bad=$((bad + 1))
        continue
    fi
    matched=0
    for name in "${names[@]}"; do
        if problem=$(verify_backup "$dir" "$name"); then
            matched=$((matched + 1))
        else
            log ERROR "$kind: $problem"
            bad=$((bad + 1))
        fi
    done
    log INFO "$kind: $matched of ${#names[@]} backups match their checksum (newest ${names[0]})"
done
((bad == 0)) || die "verification FAILED: $bad problem(s), see above"
log INFO "verification passed"
