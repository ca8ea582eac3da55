#!/usr/bin/env bash
# Nightly archive of the n8n data directory (/home/node/.n8n in the coinpilot-n8n volume: the
# SQLite database with workflows and credentials, and the config holding the key that decrypts
# those credentials; the two are only useful together), written atomically with a .sha256 into
# $BACKUP_ROOT/n8n/, then retention. See lib.sh for the shared variables.
#   N8N_TAR_CMD  command prefix that runs tar inside the n8n data directory
#                (default: docker exec coinpilot-n8n tar -C /home/node/.n8n)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

backup_init n8n tar.gz
N8N_TAR_CMD=${N8N_TAR_CMD:-docker exec coinpilot-n8n tar -C /home/node/.n8n}
read -r -a n8n_tar_cmd <<<"$N8N_TAR_CMD"

run_captured "archiving the n8n data" "$BACKUP_TMP" "${n8n_tar_cmd[@]}" -czf - .
# Reads the whole stream: a truncated or damaged archive fails here, not on the day of a restore.
run_captured "checking the n8n archive" /dev/null gzip -t -- "$BACKUP_TMP"
backup_commit
prune_backups
log INFO "n8n backup done"
