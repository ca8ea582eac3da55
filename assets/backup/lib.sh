# shellcheck shell=bash
# Shared by the CoinPilot backup scripts (sourced, never run): logging, reading the app's .env,
# atomic publication of a backup with its .sha256, checksum verification and retention.
#
# Every path and every way of reaching a server is a variable so the same scripts run on the host
# (through `docker exec`) and in the tests (against throwaway local servers):
#   BACKUP_ROOT   backups live in $BACKUP_ROOT/<kind>/            (default /srv/coinpilot-data/backups,
#                 on the data volume, so they survive a recreate of the VM)
#   LOG_DIR       each script appends to $LOG_DIR/<name>.log       (default /var/log/coinpilot)
#   ENV_FILE      the Compose .env read for credentials (default /opt/coin-pilot/deploy/cloud/oci/.env,
#                 where the host component writes it; empty = use only the environment)
#   BACKUP_NOW    the moment a backup is named after, any `date -d` text (default: now)
#   KEEP_DAILY    newest daily backups kept per kind               (default 7)
#   KEEP_WEEKLY   newest Sunday (UTC) backups kept per kind        (default 4)
#   BACKUP_KINDS  kinds checked by verify_backups.sh and restore_rehearsal.sh (default: all three)

BACKUP_ROOT=${BACKUP_ROOT:-/srv/coinpilot-data/backups}
LOG_DIR=${LOG_DIR:-/var/log/coinpilot}
ENV_FILE=${ENV_FILE-/opt/coin-pilot/deploy/cloud/oci/.env}
KEEP_DAILY=${KEEP_DAILY:-7}
KEEP_WEEKLY=${KEEP_WEEKLY:-4}
BACKUP_KINDS=${BACKUP_KINDS:-postgres redis n8n}

# A failure inside $(...) stops the script too, not only the command substitution.
shopt -s inherit_errexit

# Backups hold credentials and trading data: nothing we create is readable by other users.
umask 077

TEMP_PATHS=()
trap cleanup_temp_paths EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cleanup_temp_paths() {
    if ((${#TEMP_PATHS[@]})); then
        rm -rf -- "${TEMP_PATHS[@]}"
    fi
}

# log_init NAME: every later log line is appended to $LOG_DIR/NAME.log.
log_init() {
    LOG_NAME=$1
    mkdir -p -- "$LOG_DIR"
    LOG_FILE="$LOG_DIR/$1.log"
}

# Log lines go to the log file; they are echoed to the terminal only for manual runs, because
# under cron stderr is redirected to the same file and every line would appear twice.
log() {
    local level=$1
    shift
    local line
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) [$LOG_NAME] $level $*"
    printf '%s\n' "$line" >>"$LOG_FILE"
    if [[ -t 2 ]]; then
        printf '%s\n' "$line" >&2
    fi
}

die() {
    log ERROR "$*"
    exit 1
}

# make_temp_dir VAR: a private temp dir removed on exit, its path stored in VAR.
make_temp_dir() {
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/coinpilot-backup.XXXXXX")
    TEMP_PATHS+=("$dir")
    printf -v "$1" '%s' "$dir"
}

# load_env KEY...: sets each KEY not already in the environment from ENV_FILE (KEY=value lines,
# optional `export ` and surrounding quotes). The file is parsed, never sourced, so a value with
# shell syntax in it cannot run anything.
load_env() {
    local key line value
    [[ -z $ENV_FILE ]] && return 0
    [[ -r $ENV_FILE ]] || die "cannot read $ENV_FILE (set ENV_FILE to the app's .env, or to an empty string to use only the environment)"
    for key in "$@"; do
        [[ -n ${!key+set} ]] && continue
        line=$(grep -E "^(export[[:space:]]+)?${key}=" -- "$ENV_FILE" | tail -n 1) || continue
        value=${line#*=}
        value=${value%$'\r'}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        printf -v "$key" '%s' "$value"
        export "${key?}"
    done
}

# load_postgres_env: POSTGRES_USER (default postgres), POSTGRES_DB (default: POSTGRES_USER, as in
# the postgres image) and POSTGRES_PASSWORD (optional: inside the container the local socket is
# trusted) from the environment or ENV_FILE. The password is exported as PGPASSWORD, which
# `docker exec -e PGPASSWORD` copies without putting it on a command line that `ps` would show.
load_postgres_env() {
    load_env POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB
    POSTGRES_USER=${POSTGRES_USER:-postgres}
    POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    export PGPASSWORD=${POSTGRES_PASSWORD:-}
}

# run_captured DESCRIPTION OUTPUT COMMAND...: runs COMMAND with stdout into OUTPUT; its stderr is
# logged as warnings on success and quoted in the error on failure.
run_captured() {
    local description=$1 output=$2 errors status=0
    shift 2
    errors=$(mktemp "${TMPDIR:-/tmp}/coinpilot-backup-err.XXXXXX")
    TEMP_PATHS+=("$errors")
    "$@" >"$output" 2>"$errors" || status=$?
    if ((status != 0)); then
        die "$description failed (exit $status): $(tail -n 5 -- "$errors" | tr '\n' ' ')"
    fi
    if [[ -s $errors ]]; then
        log WARN "$description: $(tail -n 5 -- "$errors" | tr '\n' ' ')"
    fi
}

# --- one kind's backup directory -----------------------------------------------------------------

# backup_init KIND EXT: logs to KIND_backup.log, creates $BACKUP_ROOT/KIND (0700), takes the
# kind's lock so a manual run cannot race the cron one, and names the new backup
# KIND_YYYYmmddTHHMMSSZ.EXT after BACKUP_NOW in UTC.
backup_init() {
    KIND=$1
    EXT=$2
    log_init "${KIND}_backup"
    KIND_DIR="$BACKUP_ROOT/$KIND"
    mkdir -p -- "$KIND_DIR"
    # The lock is on the directory itself, so a run that fails leaves no file behind.
    exec 9<"$KIND_DIR"
    flock -n 9 || die "another $KIND backup is running (it holds the lock on $KIND_DIR)"
    local stamp
    stamp=$(date -u -d "${BACKUP_NOW:-now}" +%Y%m%dT%H%M%SZ) || die "BACKUP_NOW='${BACKUP_NOW:-}' is not a date"
    BACKUP_NAME="${KIND}_${stamp}.${EXT}"
    [[ -e "$KIND_DIR/$BACKUP_NAME" ]] && die "$KIND_DIR/$BACKUP_NAME already exists"
    # Dot-prefixed: never matched as a backup, and removed on exit if the run fails.
    BACKUP_TMP="$KIND_DIR/.$BACKUP_NAME.partial"
    TEMP_PATHS+=("$BACKUP_TMP" "$BACKUP_TMP.sha256")
    log INFO "starting $KIND backup $BACKUP_NAME"
}

# require_magic TEXT: the partial backup must start with TEXT (the format's signature), so an
# error message captured on stdout is never published as a backup.
require_magic() {
    local head
    head=$(head -c "${#1}" -- "$BACKUP_TMP")
    [[ $head == "$1" ]] || die "$BACKUP_NAME does not start with '$1': not a valid $KIND backup"
}

# backup_commit: flushes the partial file, writes its .sha256 and renames both into place, data
# first: a file without its .sha256 is never taken for a good backup.
backup_commit() {
    local hash size
    [[ -s $BACKUP_TMP ]] || die "$BACKUP_NAME is empty"
    hash=$(sha256sum <"$BACKUP_TMP" | cut -d' ' -f1)
    printf '%s  %s\n' "$hash" "$BACKUP_NAME" >"$BACKUP_TMP.sha256"
    sync -- "$BACKUP_TMP" "$BACKUP_TMP.sha256"
    mv -- "$BACKUP_TMP" "$KIND_DIR/$BACKUP_NAME"
    mv -- "$BACKUP_TMP.sha256" "$KIND_DIR/$BACKUP_NAME.sha256"
    sync -- "$KIND_DIR"
    size=$(stat -c %s -- "$KIND_DIR/$BACKUP_NAME")
    log INFO "wrote $KIND_DIR/$BACKUP_NAME ($size bytes, sha256 $hash)"
}

# list_backups DIR KIND: backup file names in DIR, newest first (the UTC stamp sorts as text).
list_backups() {
    find "$1" -maxdepth 1 -type f -name "${2}_????????T??????Z.*" ! -name '*.sha256' -printf '%f\n' | sort -r
}

# verify_backup DIR NAME: succeeds when NAME has a .sha256 that matches its content; otherwise
# prints why on stdout and fails.
verify_backup() {
    local file="$1/$2" expected actual _
    if [[ ! -f $file.sha256 ]]; then
        echo "missing checksum file $file.sha256"
        return 1
    fi
    read -r expected _ <"$file.sha256" || true
    actual=$(sha256sum <"$file" | cut -d' ' -f1)
    if [[ $actual != "$expected" ]]; then
        echo "CHECKSUM MISMATCH: $file has sha256 $actual but $2.sha256 says ${expected:-nothing}: the backup is corrupt"
        return 1
    fi
}

# prune_backups: keeps the newest backup of each of the newest KEEP_DAILY days and of the newest
# KEEP_WEEKLY Sundays (UTC); deletes the other good backups. Backups that fail their checksum are
# neither counted nor deleted (they stay for inspection, and verify_backups.sh reports them), so a
# corrupt newest file can never push the last good one out. Only called after a successful run.
prune_backups() {
    local name day problem
    local -a good=()
    local -A keep=() seen_day=()
    local daily=0 weekly=0
    while read -r name; do
        [[ -n $name ]] || continue
        if problem=$(verify_backup "$KIND_DIR" "$name"); then
            good+=("$name")
        else
            log WARN "not counted for retention: $problem"
        fi
    done < <(list_backups "$KIND_DIR" "$KIND")
    for name in "${good[@]}"; do
        day=${name#"${KIND}_"}
        day=${day:0:8}
        [[ -n ${seen_day[$day]:-} ]] && continue
        seen_day[$day]=1
        if ((daily < KEEP_DAILY)); then
            keep[$name]=1
            daily=$((daily + 1))
        fi
        if ((weekly < KEEP_WEEKLY)) && [[ $(date -u -d "$day" +%u) == 7 ]]; then
            keep[$name]=1
            weekly=$((weekly + 1))
        fi
    done
    for name in "${good[@]}"; do
        if [[ -z ${keep[$name]:-} ]]; then
            rm -f -- "$KIND_DIR/$name" "$KIND_DIR/$name.sha256"
            log INFO "retention: deleted $name"
        fi
    done
    log INFO "retention: ${#keep[@]} kept ($daily daily, $weekly weekly)"
}

if ! [[ $KEEP_DAILY =~ ^[1-9][0-9]*$ && $KEEP_WEEKLY =~ ^[0-9]+$ ]]; then
    echo "KEEP_DAILY must be >= 1 and KEEP_WEEKLY >= 0 (got '$KEEP_DAILY', '$KEEP_WEEKLY')" >&2
    exit 2
fi
