#!/usr/bin/env bash
# Daily check of every retained backup of every kind: its .sha256 (bit rot, a missing checksum)
# and its format, read through to the end as a restore would (pg_restore --list and a full read of
# the archive, the RDB header, end marker and redis-check-rdb, gzip -t and the tar listing), so a
# damaged file whose checksum was recomputed fails too. It also reports the temp files a killed
# backup left behind (the next backup of that kind removes them). Fails, with one ERROR line
# summing up, if anything is wrong or a kind has no backup at all. See lib.sh for the variables.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

log_init verify_backups
problems=()
# problem TEXT: one FAIL line now; the ERROR line at the end counts and quotes them.
problem() {
    log FAIL "$1"
    problems+=("$1")
}

for kind in $BACKUP_KINDS; do
    case $kind in
        postgres | redis | n8n) ;;
        *) die "unknown kind '$kind' in BACKUP_KINDS" ;;
    esac
    dir="$BACKUP_ROOT/$kind"
    names=()
    if [[ -d $dir ]]; then
        mapfile -t names < <(list_backups "$dir" "$kind")
        # Temp files only count as left behind while no backup of the kind runs: looked for under its lock.
        if stale=$(flock -w 2 -- "$dir" bash -c "$(declare -f stale_partials); TZ=UTC stale_partials \"\$1\"" bash "$dir"); then
            while read -r name size modified; do
                [[ -n $name ]] && problem "$kind: $dir/$name ($size bytes, last written $modified) was left by a $kind backup that died before it finished (killed, crashed or rebooted); the next $kind backup removes it"
            done <<<"$stale"
        else
            log INFO "$kind: a $kind backup is running; its temp files are not checked"
        fi
    fi
    if ((${#names[@]} == 0)); then
        problem "$kind: no backup in $dir"
        continue
    fi
    matched=0
    readable=0
    for name in "${names[@]}"; do
        if ! why=$(verify_backup "$dir" "$name"); then
            problem "$kind: $why"
            continue
        fi
        matched=$((matched + 1))
        if why=$(check_format "$kind" "$dir/$name" "$name"); then
            readable=$((readable + 1))
        else
            problem "$kind: FORMAT CHECK FAILED: $why (its .sha256 matches, so it was damaged before its checksum was written, or the checksum was rewritten)"
        fi
    done
    log INFO "$kind: $matched of ${#names[@]} backups match their checksum, $readable of ${#names[@]} pass the $kind format check (newest ${names[0]})"
done
if ((${#problems[@]})); then
    more=""
    if ((${#problems[@]} > 1)); then
        more="; and $((${#problems[@]} - 1)) more (FAIL lines above)"
    fi
    die "verification FAILED: ${#problems[@]} problem(s): ${problems[0]}$more"
fi
log INFO "verification passed"
