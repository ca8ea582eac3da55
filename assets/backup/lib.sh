# shellcheck shell=bash
# Shared by the CoinPilot backup scripts (sourced, never run): logging, reading the app's .env,
# time bounds on every external call, the run lock, atomic publication of a backup with its
# .sha256, checksum and format checks, retention and the off-host copy.
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
#   PG_RESTORE_CMD      pg_restore prefix for format checks and the rehearsal
#                       (default: docker exec -i -e PGPASSWORD -e PGCONNECT_TIMEOUT coinpilot-db pg_restore)
#   REHEARSAL_REDIS_EXEC prefix that runs `sh` where redis-server and redis-check-rdb are; empty =
#                       locally (default: docker exec -i coinpilot-redis, same version as production)
# Time bounds, in seconds; a run that hits one fails and its ERROR line names the bound:
#   CONNECT_TIMEOUT  connecting to PostgreSQL (exported as PGCONNECT_TIMEOUT) (default 30)
#   CALL_TIMEOUT     one short call: a redis-cli command, docker inspect/pause/unpause (default 120)
#   DUMP_TIMEOUT     one long call: pg_dump, copying the RDB, tar, pg_restore, a format check (default 3600)
#   LOCK_WAIT        waiting for another run of the same job to let go of its lock (default 5)
# Off-host copy (see offsite_sync below):
#   OFFSITE_URL_FILE   root-only file: line 1 the write-only pre-authenticated request URL (ends in /o/),
#                      line 2 optionally `expires=<RFC 3339 time>` (default /etc/coinpilot-ops/offsite-upload-par;
#                      missing = no off-host copy configured)
#   OFFSITE_PREFIX     prefix of the object names (default empty: objects are <kind>/<file>)
#   OFFSITE_ATTEMPTS   upload attempts per object (default 6), OFFSITE_RETRY_DELAY first wait between
#                      them in seconds, doubled each time up to 60 (default 2)
#   OFFSITE_ATTEMPT_TIMEOUT  seconds one attempt may take (default 900), OFFSITE_TIMEOUT all attempts of
#                      one object together (default 1800)
# Alerts:
#   ALERT_CMD          run as `ALERT_CMD LOG_NAME STATUS LOG_FILE` when a run fails, if executable
#                      (default /opt/coinpilot-ops/backup/alert.sh; see that script)

BACKUP_ROOT=${BACKUP_ROOT:-/srv/coinpilot-data/backups}
LOG_DIR=${LOG_DIR:-/var/log/coinpilot}
ENV_FILE=${ENV_FILE-/opt/coin-pilot/deploy/cloud/oci/.env}
KEEP_DAILY=${KEEP_DAILY:-7}
KEEP_WEEKLY=${KEEP_WEEKLY:-4}
BACKUP_KINDS=${BACKUP_KINDS:-postgres redis n8n}
PG_RESTORE_CMD=${PG_RESTORE_CMD:-docker exec -i -e PGPASSWORD -e PGCONNECT_TIMEOUT coinpilot-db pg_restore}
REHEARSAL_REDIS_EXEC=${REHEARSAL_REDIS_EXEC-docker exec -i coinpilot-redis}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-30}
CALL_TIMEOUT=${CALL_TIMEOUT:-120}
DUMP_TIMEOUT=${DUMP_TIMEOUT:-3600}
LOCK_WAIT=${LOCK_WAIT:-5}
OFFSITE_URL_FILE=${OFFSITE_URL_FILE:-/etc/coinpilot-ops/offsite-upload-par}
OFFSITE_PREFIX=${OFFSITE_PREFIX:-}
OFFSITE_ATTEMPTS=${OFFSITE_ATTEMPTS:-6}
OFFSITE_RETRY_DELAY=${OFFSITE_RETRY_DELAY:-2}
OFFSITE_ATTEMPT_TIMEOUT=${OFFSITE_ATTEMPT_TIMEOUT:-900}
OFFSITE_TIMEOUT=${OFFSITE_TIMEOUT:-1800}
ALERT_CMD=${ALERT_CMD:-/opt/coinpilot-ops/backup/alert.sh}
# libpq's own connect bound (pg_dump, pg_restore, psql); `docker exec -e PGCONNECT_TIMEOUT` passes it on.
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-$CONNECT_TIMEOUT}

# A failure inside $(...) stops the script too, not only the command substitution; functions and
# subshells inherit the ERR trap, which remembers the last failing command for the exit message.
shopt -s inherit_errexit
set -o errtrace

# Backups hold credentials and trading data: nothing we create is readable by other users.
umask 077

# Every temp file and dir of a run lives in RUN_TMP (named after our PID), removed on exit; parts
# that run in subshells create theirs there too, so nothing they make outlives the run.
RUN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/coinpilot-backup.$$.XXXXXX")
TEMP_PATHS=("$RUN_TMP")
EXIT_HOOKS=()
CHILD_PIDS=()
LOCK_PID=""
LOCK_FD=""
RUN_SIGNAL=""
LAST_FAILED=""
ERROR_LOGGED=false
# Set when an ERROR line was logged, also by a subshell: the exit handler then adds none.
ERROR_MARK="$RUN_TMP/error-logged"
trap on_exit EXIT
trap 'RUN_SIGNAL=INT; exit 130' INT
trap 'RUN_SIGNAL=TERM; exit 143' TERM
trap 'LAST_FAILED="line $LINENO: $BASH_COMMAND (exit $?)"' ERR

# begin_part NOTE: the first command of a `( ... ) &` part that handles one kind on its own: its own
# exit hooks, lock and temp files, the same signal handling as the run, and a failure that becomes a
# FAIL line plus a note in NOTE for the run's summary instead of the run's ERROR line.
begin_part() {
    trap on_exit EXIT
    trap 'RUN_SIGNAL=INT; exit 130' INT
    trap 'RUN_SIGNAL=TERM; exit 143' TERM
    EXIT_HOOKS=()
    LOCK_PID=""
    LOCK_FD=""
    TEMP_PATHS=()
    DIE_LEVEL=FAIL
    FAIL_NOTE=$1
}

cleanup_temp_paths() {
    if ((${#TEMP_PATHS[@]})); then
        rm -rf -- "${TEMP_PATHS[@]}"
    fi
}

# at_exit COMMAND: runs COMMAND (eval'd) when the script exits, before temp files are removed and
# the lock is released; hooks run in the order they were added, and a failing one stops none.
at_exit() {
    EXIT_HOOKS+=("$1")
}

# The one exit handler: hooks, then running children, temp files and the lock; and if the run
# failed without saying why (a signal, an unexpected failure), the one ERROR line that says so.
on_exit() {
    local status=$? hook pid logged=$ERROR_LOGGED
    set +e
    trap - ERR
    for hook in "${EXIT_HOOKS[@]}"; do
        eval "$hook"
    done
    for pid in "${CHILD_PIDS[@]}"; do
        [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    done
    # A part reporting to a summary (FAIL_NOTE) has said why once it wrote its note.
    if [[ -n ${FAIL_NOTE:-} ]]; then
        [[ -s $FAIL_NOTE ]] && logged=true
    elif [[ -e $ERROR_MARK ]]; then
        logged=true
    fi
    cleanup_temp_paths
    release_lock
    if ((status != 0)) && ! $logged && [[ -n ${LOG_FILE:-} ]]; then
        local why="failed (exit $status) at ${LAST_FAILED:-an unknown step}"
        if [[ -n $RUN_SIGNAL ]]; then
            why="stopped by SIG$RUN_SIGNAL (exit $status); nothing half-written was published"
        fi
        log "${DIE_LEVEL:-ERROR}" "${LOG_NAME}: $why"
        if [[ -n ${FAIL_NOTE:-} ]]; then
            printf '%s\n' "$why" >>"$FAIL_NOTE"
        fi
    fi
    # A failed run tells the operator (alert.sh: journal, and Discord when a webhook is installed);
    # a part reporting to a summary leaves that to the run it belongs to.
    if ((status != 0)) && [[ -n ${LOG_FILE:-} && -z ${FAIL_NOTE:-} && -x $ALERT_CMD ]]; then
        "$ALERT_CMD" "$LOG_NAME" "$status" "$LOG_FILE" </dev/null >/dev/null 2>&1
    fi
    exit "$status"
}

# log_init NAME: every later log line is appended to $LOG_DIR/NAME.log; removes what dead runs left
# in TMPDIR.
log_init() {
    LOG_NAME=$1
    mkdir -p -- "$LOG_DIR"
    LOG_FILE="$LOG_DIR/$1.log"
    check_settings
    clean_stale_temp
}

# Log lines go to the log file; they are echoed to the terminal only for manual runs, because
# under cron stderr is redirected to the same file and every line would appear twice. A line the
# file cannot take (a full disk) goes to stderr instead.
log() {
    local level=$1
    shift
    local line
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) [$LOG_NAME] $level $*"
    if ! { printf '%s\n' "$line" >>"$LOG_FILE"; } 2>/dev/null; then
        printf '%s\n' "$line" >&2
    elif [[ -t 2 ]]; then
        printf '%s\n' "$line" >&2
    fi
}

# die MESSAGE: logs MESSAGE and exits 1. A run logs exactly one ERROR line when it fails: parts that
# report to a summary (a rehearsal's kinds) set DIE_LEVEL=FAIL and FAIL_NOTE to a file that
# collects the reasons for that summary.
die() {
    local level=${DIE_LEVEL:-ERROR}
    log "$level" "$*"
    if [[ $level == ERROR ]]; then
        ERROR_LOGGED=true
        : 2>/dev/null >"$ERROR_MARK" || true
    fi
    if [[ -n ${FAIL_NOTE:-} ]]; then
        printf '%s\n' "$*" >>"$FAIL_NOTE" || true
    fi
    exit 1
}

# make_temp_dir VAR / make_temp_file VAR: a private temp dir or file in RUN_TMP (removed on exit,
# and by a later run if this one dies without its exit handler), its path stored in VAR.
make_temp_dir() {
    local dir
    dir=$(mktemp -d "$RUN_TMP/dir.XXXXXX")
    printf -v "$1" '%s' "$dir"
}

make_temp_file() {
    local file
    file=$(mktemp "$RUN_TMP/file.XXXXXX")
    printf -v "$1" '%s' "$file"
}

# clean_stale_temp: removes the temp files and dirs of runs that died without their exit handler
# (kill -9, a crash, a reboot): ours carry the PID of their run, and that process is gone.
clean_stale_temp() {
    local path pid
    for path in "${TMPDIR:-/tmp}"/coinpilot-backup.*; do
        [[ -e $path ]] || continue
        pid=${path##*/coinpilot-backup.}
        pid=${pid%%.*}
        [[ $pid =~ ^[0-9]+$ ]] || continue
        [[ $pid == "$$" || -d /proc/$pid ]] && continue
        rm -rf -- "$path"
        log WARN "removed $path, left behind by run $pid, which died"
    done
}

# --- time bounds -----------------------------------------------------------------------------------

# run_bounded BOUND COMMAND...: runs COMMAND under `timeout` with the seconds in the variable named
# BOUND (stdin, stdout and stderr as given); returns its status, 124 or 137 when the bound ran out.
# It runs as a background job that we wait for, so a TERM or INT reaches our trap at once, and the
# exit handler stops it (timeout passes the signal on to the whole command).
run_bounded() {
    local seconds=${!1} pid status=0
    shift
    timeout --kill-after=10 "$seconds" "$@" <&0 &
    pid=$!
    CHILD_PIDS+=("$pid")
    wait "$pid" || status=$?
    CHILD_PIDS=("${CHILD_PIDS[@]/#$pid/}")
    return "$status"
}

# why_failed DESCRIPTION BOUND STATUS ERRORS_FILE: the sentence for a failed bounded call, naming
# the bound that ran out: the overall one (BOUND) or PostgreSQL's connect bound.
why_failed() {
    local description=$1 bound=$2 status=$3 errors
    errors=$(tail -n 5 -- "$4" 2>/dev/null | tr '\n' ' ')
    if ((status == 124 || status == 137)); then
        printf '%s timed out: no result within %s=%ss (the bound on the whole call), stopped it. %s' "$description" "$bound" "${!bound}" "$errors"
    elif [[ $errors == *"timeout expired"* ]]; then
        printf '%s could not connect within CONNECT_TIMEOUT=%ss (PGCONNECT_TIMEOUT, the connect bound): %s' "$description" "$PGCONNECT_TIMEOUT" "$errors"
    else
        printf '%s failed (exit %s): %s' "$description" "$status" "$errors"
    fi
}

# run_captured DESCRIPTION OUTPUT BOUND COMMAND...: runs COMMAND within BOUND with stdout into
# OUTPUT; its stderr is logged as warnings on success and quoted in the error on failure.
run_captured() {
    local description=$1 output=$2 bound=$3 errors status=0
    shift 3
    make_temp_file errors
    run_bounded "$bound" "$@" >"$output" 2>"$errors" || status=$?
    if ((status != 0)); then
        die "$(why_failed "$description" "$bound" "$status" "$errors")"
    fi
    if [[ -s $errors ]]; then
        log WARN "$description: $(tail -n 5 -- "$errors" | tr '\n' ' ')"
    fi
}

# --- the run lock ----------------------------------------------------------------------------------

# take_lock DIR WHAT [try]: waits up to LOCK_WAIT seconds for the lock on DIR (a directory: a run
# that fails leaves no lock file behind) and dies naming WHAT if another run keeps it (with `try`:
# returns 1 instead). The lock is held
# by a small helper process, never by this shell: a child we start (pg_dump, redis-cli) does not
# inherit it, so a run killed with -9 cannot leave an orphan holding it. The helper lets go as soon
# as this shell is gone (tail --pid), or when release_lock ends it.
take_lock() {
    local dir=$1 what=$2 mode=${3:-} line=""
    # shellcheck disable=SC2016 # expanded by the inner sh, not here
    exec {LOCK_FD}< <(exec flock -w "$LOCK_WAIT" -o -E 75 -- "$dir" sh -c 'echo locked; exec tail --pid="$1" -s 0.2 -f /dev/null' sh "$$" 2>/dev/null)
    LOCK_PID=$!
    read -r -t "$((LOCK_WAIT + 30))" line <&"$LOCK_FD" || true
    if [[ $line != locked ]]; then
        release_lock
        [[ $mode == try ]] && return 1
        die "another $what is running: it holds the lock on $dir (waited ${LOCK_WAIT}s)"
    fi
}

release_lock() {
    if [[ -n $LOCK_PID ]]; then
        # Waited for, so the lock is free when we return (the next run may start at once).
        kill "$LOCK_PID" 2>/dev/null || true
        wait "$LOCK_PID" 2>/dev/null || true
        LOCK_PID=""
    fi
    if [[ -n $LOCK_FD ]]; then
        exec {LOCK_FD}<&-
        LOCK_FD=""
    fi
}

# --- reading the app's .env ------------------------------------------------------------------------

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

# --- one kind's backup directory -----------------------------------------------------------------

# backup_init KIND EXT: logs to KIND_backup.log, creates $BACKUP_ROOT/KIND (0700), takes the
# kind's lock so a manual run cannot race the cron one, removes the temp files of runs that died,
# and names the new backup KIND_YYYYmmddTHHMMSSZ.EXT after BACKUP_NOW in UTC.
backup_init() {
    KIND=$1
    EXT=$2
    log_init "${KIND}_backup"
    KIND_DIR="$BACKUP_ROOT/$KIND"
    mkdir -p -- "$KIND_DIR"
    take_lock "$KIND_DIR" "$KIND backup"
    clean_stale_partials
    local stamp newest
    stamp=$(date -u -d "${BACKUP_NOW:-now}" +%Y%m%dT%H%M%SZ) || die "BACKUP_NOW='${BACKUP_NOW:-}' is not a date"
    BACKUP_NAME="${KIND}_${stamp}.${EXT}"
    [[ -e "$KIND_DIR/$BACKUP_NAME" ]] && die "$KIND_DIR/$BACKUP_NAME already exists"
    newest=$(list_backups "$KIND_DIR" "$KIND" | head -n 1)
    if [[ -n $newest && $newest > $BACKUP_NAME ]]; then
        log WARN "this run's stamp $stamp is older than the newest backup $newest: is the host clock behind (or BACKUP_NOW in the past)? This run's backup is kept all the same"
    fi
    # Dot-prefixed: never matched as a backup, removed on exit if the run fails, and by the next
    # run if this one dies without its exit handler.
    BACKUP_TMP="$KIND_DIR/.$BACKUP_NAME.partial"
    TEMP_PATHS+=("$BACKUP_TMP" "$BACKUP_TMP.sha256")
    log INFO "starting $KIND backup $BACKUP_NAME"
}

# stale_partials DIR: the temp files (dot-named *.partial) in DIR; only called under DIR's lock, so
# each was left by a run that died.
stale_partials() {
    find "$1" -maxdepth 1 -type f -name '.*.partial*' -printf '%f %s %TY-%Tm-%TdT%TH:%TM:%.2TSZ\n' 2>/dev/null | sort
}

# clean_stale_partials: removes what a killed run of this kind left (we hold the kind's lock).
clean_stale_partials() {
    local name size modified
    while read -r name size modified; do
        [[ -n $name ]] || continue
        rm -f -- "${KIND_DIR:?}/$name"
        log WARN "removed $KIND_DIR/$name ($size bytes, last written $modified), left by a $KIND backup that died before it finished"
    done < <(TZ=UTC stale_partials "$KIND_DIR")
}

# require_magic TEXT: the partial backup must start with TEXT (the format's signature), so an
# error message captured on stdout is never published as a backup.
require_magic() {
    local head
    head=$(head -c "${#1}" -- "$BACKUP_TMP")
    [[ $head == "$1" ]] || die "$BACKUP_NAME does not start with '$1': not a valid $KIND backup"
}

# require_format: the partial backup passes the same format check verify_backups.sh runs.
require_format() {
    local problem
    problem=$(check_format "$KIND" "$BACKUP_TMP" "$BACKUP_NAME") || die "$problem; not publishing it"
}

# write_or_die FILE TEXT: writes TEXT to FILE; a failure (a full disk) is an ERROR of ours that
# quotes the system's reason.
write_or_die() {
    local errors
    make_temp_file errors
    { printf '%s' "$2" >"$1"; } 2>"$errors" || die "cannot write $1: $(tr '\n' ' ' <"$errors")(disk full?); nothing was published"
}

# backup_commit: flushes the partial file, writes its .sha256 and renames both into place, data
# first: a file without its .sha256 is never taken for a good backup.
backup_commit() {
    local hash size errors
    [[ -s $BACKUP_TMP ]] || die "$BACKUP_NAME is empty"
    make_temp_file errors
    hash=$(sha256sum <"$BACKUP_TMP" 2>"$errors" | cut -d' ' -f1) || die "cannot read $BACKUP_TMP to checksum it: $(tr '\n' ' ' <"$errors")"
    write_or_die "$BACKUP_TMP.sha256" "$hash  $BACKUP_NAME"$'\n'
    sync -- "$BACKUP_TMP" "$BACKUP_TMP.sha256" 2>"$errors" || die "cannot flush $BACKUP_NAME to disk: $(tr '\n' ' ' <"$errors")"
    mv -- "$BACKUP_TMP" "$KIND_DIR/$BACKUP_NAME" 2>"$errors" || die "cannot publish $BACKUP_NAME: $(tr '\n' ' ' <"$errors")"
    if ! mv -- "$BACKUP_TMP.sha256" "$KIND_DIR/$BACKUP_NAME.sha256" 2>"$errors"; then
        rm -f -- "${KIND_DIR:?}/$BACKUP_NAME"
        die "cannot publish $BACKUP_NAME.sha256: $(tr '\n' ' ' <"$errors")"
    fi
    sync -- "$KIND_DIR" || true
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

# --- format checks: what a restore would hit, without restoring ----------------------------------

# check_format KIND FILE [NAME]: succeeds when FILE is a readable KIND backup to its end; otherwise
# prints why on stdout and fails. A checksum recomputed over a damaged file passes verify_backup;
# this does not.
check_format() {
    local kind=$1 file=$2 name=${3:-${2##*/}} size
    size=$(stat -c %s -- "$file")
    if ((size == 0)); then
        echo "$name is empty (0 bytes)"
        return 1
    fi
    "check_${kind}_format" "$file" "$name" "$size"
}

# A readable table of contents (pg_restore --list), then the whole archive read through to its end
# (pg_restore --file=/dev/null writes the SQL of every entry, data included, and fails on a truncated
# or damaged one). pg_restore runs where PostgreSQL is (PG_RESTORE_CMD), fed on stdin.
check_postgres_format() {
    local file=$1 name=$2 errors status=0
    local -a pg_restore_cmd
    read -r -a pg_restore_cmd <<<"$PG_RESTORE_CMD"
    if [[ $(head -c 5 -- "$file") != PGDMP ]]; then
        echo "$name does not start with 'PGDMP': not a pg_dump custom-format archive"
        return 1
    fi
    make_temp_file errors
    run_bounded DUMP_TIMEOUT "${pg_restore_cmd[@]}" --list <"$file" >/dev/null 2>"$errors" || status=$?
    if ((status != 0)); then
        echo "$(why_failed "pg_restore --list of $name" DUMP_TIMEOUT "$status" "$errors"): its table of contents is unreadable"
        return 1
    fi
    status=0
    run_bounded DUMP_TIMEOUT "${pg_restore_cmd[@]}" --file=/dev/null <"$file" >/dev/null 2>"$errors" || status=$?
    if ((status != 0)); then
        echo "$(why_failed "reading $name to its end with pg_restore" DUMP_TIMEOUT "$status" "$errors"): the archive is truncated or damaged"
        return 1
    fi
}

# The RDB signature (REDIS + 4-digit version) and its end (the EOF opcode 0xFF, then an 8-byte
# CRC64 since version 5) checked here; then redis-check-rdb, where redis-server is, parses every
# key and checks the CRC64.
check_redis_format() {
    local file=$1 name=$2 size=$3 head end out status=0
    local -a redis_exec
    read -r -a redis_exec <<<"$REHEARSAL_REDIS_EXEC"
    head=$(head -c 9 -- "$file" | tr -c 'A-Z0-9' '?')
    if [[ ! $head =~ ^REDIS[0-9]{4}$ ]]; then
        echo "$name does not start with an RDB header (REDIS and a 4-digit version; it starts with '${head:0:9}'): not a redis snapshot"
        return 1
    fi
    if ((10#${head:5} >= 5)); then
        end=$(tail -c 9 -- "$file" | head -c 1 | od -An -tx1 | tr -d ' \n')
        if ((size < 18)) || [[ $end != ff ]]; then
            echo "$name does not end with the RDB end marker (0xFF and an 8-byte checksum; found '${end:-nothing}' 9 bytes before the end of $size bytes): the snapshot is truncated"
            return 1
        fi
    fi
    # shellcheck disable=SC2016 # expanded by the inner sh, not here
    out=$(run_bounded DUMP_TIMEOUT "${redis_exec[@]}" sh -c 'd=$(mktemp -d) && cat >"$d/dump.rdb" || exit 1
        redis-check-rdb "$d/dump.rdb"; status=$?; rm -rf "$d"; exit $status' <"$file" 2>&1) || status=$?
    if ((status != 0)); then
        if ((status == 124 || status == 137)); then
            echo "redis-check-rdb of $name timed out: no result within DUMP_TIMEOUT=${DUMP_TIMEOUT}s"
        else
            # What follows its "--- RDB ERROR DETECTED ---" banner says what and where.
            echo "redis-check-rdb rejects $name: $(sed -n '/RDB ERROR DETECTED/,/^\[info\]/p' <<<"$out" | grep -vE 'RDB ERROR DETECTED|^\[info\]' | head -n 3 | tr '\n' ' ')"
        fi
        return 1
    fi
}

# The whole gzip stream (gzip -t) and the tar structure inside it (tar -t lists every entry).
check_n8n_format() {
    local file=$1 name=$2 errors status=0 entries
    make_temp_file errors
    run_bounded DUMP_TIMEOUT gzip -t -- "$file" </dev/null 2>"$errors" || status=$?
    if ((status != 0)); then
        echo "$(why_failed "gzip -t of $name" DUMP_TIMEOUT "$status" "$errors"): the archive is truncated or damaged"
        return 1
    fi
    entries=$(run_bounded DUMP_TIMEOUT tar -tzf "$file" </dev/null 2>"$errors" | wc -l) || status=$?
    if ((status != 0)); then
        echo "$(why_failed "tar -t of $name" DUMP_TIMEOUT "$status" "$errors"): the tar inside is damaged"
        return 1
    fi
    if ((entries == 0)); then
        echo "$name is an archive with no entries"
        return 1
    fi
}

# --- retention -----------------------------------------------------------------------------------

# prune_backups: keeps the newest backup of each of the newest KEEP_DAILY days and of the newest
# KEEP_WEEKLY Sundays (UTC); deletes the other good backups. Backups that fail their checksum are
# neither counted nor deleted (they stay for inspection, and verify_backups.sh reports them), so a
# corrupt newest file can never push the last good one out. The backup this run wrote is never
# deleted, even when its stamp is older than the others (a clock behind, BACKUP_NOW in the past):
# it holds the newest data. Only called after a successful run.
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
    if [[ -n ${BACKUP_NAME:-} && -z ${keep[$BACKUP_NAME]:-} ]]; then
        keep[$BACKUP_NAME]=1
        log WARN "retention: kept $BACKUP_NAME, written by this run, although the rules alone would delete it (its stamp is older than the backups they keep)"
    fi
    for name in "${good[@]}"; do
        if [[ -z ${keep[$name]:-} ]]; then
            rm -f -- "${KIND_DIR:?}/$name" "$KIND_DIR/$name.sha256" "$KIND_DIR/.$name.uploaded"
            log INFO "retention: deleted $name"
        fi
    done
    log INFO "retention: ${#keep[@]} kept ($daily daily, $weekly weekly)"
}

# --- the off-host copy ---------------------------------------------------------------------------

# offsite_url: reads the pre-authenticated request URL into OFFSITE_URL (never printed, never on a
# command line); returns 1 when no off-host copy is configured. Warns when its expiry is near.
offsite_url() {
    local expires="" left
    OFFSITE_URL=""
    if [[ ! -e $OFFSITE_URL_FILE ]]; then
        return 1
    fi
    [[ -r $OFFSITE_URL_FILE ]] || die "cannot read $OFFSITE_URL_FILE (the off-host upload URL; run as root)"
    { read -r OFFSITE_URL && read -r expires; } <"$OFFSITE_URL_FILE" || true
    if [[ ! $OFFSITE_URL =~ ^https?://[^[:space:]\"\\]+/o/$ ]]; then
        OFFSITE_URL=""
        die "$OFFSITE_URL_FILE does not hold a pre-authenticated request URL ending in /o/ on its first line (its content is not shown: it is a secret)"
    fi
    expires=${expires#expires=}
    if [[ -n $expires ]] && left=$(($(date -u -d "$expires" +%s) - $(date -u +%s))) 2>/dev/null; then
        if ((left < 30 * 86400)); then
            log WARN "the off-host upload URL expires at $expires ($((left / 86400)) days left): rotate it (README, 'Off-host copy')"
        fi
    fi
}

# scrub TEXT: TEXT with any pre-authenticated request token replaced, for logs.
scrub() {
    sed -E 's#/p/[^/[:space:]]+/#/p/[secret]/#g' <<<"$1"
}

# upload_object FILE OBJECT: PUTs FILE as OBJECT with plain curl: the URL reaches curl on stdin
# (--config -), never in argv; Content-MD5 lets the service refuse a body damaged on the way.
# Transient failures (no connection, a timeout, HTTP 408, 429 or 5xx) are retried up to
# OFFSITE_ATTEMPTS times with doubling waits, all within OFFSITE_TIMEOUT. Prints why on failure.
upload_object() {
    local file=$1 object=$2 encoded md5 sha size attempt=1 delay=$OFFSITE_RETRY_DELAY code status
    local started=$SECONDS body errors reason="" quoted
    encoded=${object//\//%2F}
    md5=$(md5sum <"$file" | cut -d' ' -f1)
    # shellcheck disable=SC2059,SC2001 # the hex digit pairs become \x escapes for printf, on purpose
    md5=$(printf "$(sed 's/../\\x&/g' <<<"$md5")" | base64)
    sha=$(sha256sum <"$file" | cut -d' ' -f1)
    size=$(stat -c %s -- "$file")
    quoted=${file//\\/\\\\}
    quoted=${quoted//\"/\\\"}
    make_temp_file body
    make_temp_file errors
    while true; do
        status=0
        code=$(printf 'url = "%s%s"\nupload-file = "%s"\nheader = "Content-MD5: %s"\nheader = "opc-meta-sha256: %s"\nheader = "Content-Type: application/octet-stream"\nheader = "Expect:"\n' \
            "$OFFSITE_URL" "$encoded" "$quoted" "$md5" "$sha" |
            run_bounded OFFSITE_ATTEMPT_TIMEOUT curl --config - --silent --show-error --connect-timeout "$CONNECT_TIMEOUT" \
                --max-time "$OFFSITE_ATTEMPT_TIMEOUT" --output "$body" --write-out '%{http_code}' 2>"$errors") || status=$?
        if ((status == 0)) && [[ $code == 2?? ]]; then
            log INFO "off-host copy: uploaded $object ($size bytes) in $((SECONDS - started))s, attempt $attempt"
            return 0
        fi
        if ((status != 0)); then
            reason="curl exit $status: $(tail -n 2 -- "$errors" | tr '\n' ' ')"
        else
            reason="HTTP $code: $(head -c 300 -- "$body" | tr '\n' ' ')"
        fi
        reason=$(scrub "$reason")
        # Retried: no connection or no answer (curl 6, 7, 28, 35, 52, 55, 56, our bound), HTTP 408, 429, 5xx.
        if ! [[ $status =~ ^(6|7|28|35|52|55|56|124|137)$ || ($status == 0 && $code =~ ^(408|429|5..)$) ]]; then
            echo "$object: $reason (not retried)"
            return 1
        fi
        if ((attempt >= OFFSITE_ATTEMPTS)) || ((SECONDS - started + ${delay%.*} >= OFFSITE_TIMEOUT)); then
            echo "$object: $reason (gave up after $attempt attempts in $((SECONDS - started))s)"
            return 1
        fi
        log WARN "off-host copy: attempt $attempt of $OFFSITE_ATTEMPTS for $object failed ($reason); next in ${delay}s"
        sleep "$delay"
        attempt=$((attempt + 1))
        delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 60) d = 60; print d }')
    done
}

# offsite_sync: uploads each retained good backup of KIND (in KIND_DIR, under the kind's lock) that
# has not been uploaded yet, newest first: the one this run wrote, and any an earlier failed upload
# left behind. The data goes first, then its .sha256, then the local marker .<name>.uploaded. A
# failure dies (the job fails, for alerting) and never touches the local backups.
offsite_sync() {
    local name problem count=0
    local -a failures=()
    if ! offsite_url; then
        log INFO "off-host copy: not configured ($OFFSITE_URL_FILE does not exist); backups stay on this host only"
        return 0
    fi
    while read -r name; do
        [[ -n $name && ! -e "$KIND_DIR/.$name.uploaded" ]] || continue
        if ! problem=$(verify_backup "$KIND_DIR" "$name"); then
            log WARN "off-host copy: not uploading $name: $problem"
            continue
        fi
        if problem=$(upload_object "$KIND_DIR/$name" "$OFFSITE_PREFIX$KIND/$name") &&
            problem=$(upload_object "$KIND_DIR/$name.sha256" "$OFFSITE_PREFIX$KIND/$name.sha256"); then
            : >"$KIND_DIR/.$name.uploaded"
            count=$((count + 1))
        else
            failures+=("$problem")
        fi
    done < <(list_backups "$KIND_DIR" "$KIND")
    OFFSITE_URL=""
    if ((${#failures[@]})); then
        die "off-host copy FAILED for ${#failures[@]} backup(s), kept on this host and retried by the next run: ${failures[*]}"
    fi
    log INFO "off-host copy: $count backup(s) uploaded, every retained $KIND backup is off the host"
}

# check_settings: every bound and count must be a number; a bad one stops the run (exit 2) before
# it touches anything.
check_settings() {
    local name
    for name in KEEP_WEEKLY CONNECT_TIMEOUT CALL_TIMEOUT DUMP_TIMEOUT LOCK_WAIT OFFSITE_ATTEMPTS OFFSITE_ATTEMPT_TIMEOUT OFFSITE_TIMEOUT; do
        if ! [[ ${!name} =~ ^[0-9]+$ ]]; then
            settings_error "$name must be a whole number (got '${!name}')"
        fi
    done
    if ! [[ $KEEP_DAILY =~ ^[1-9][0-9]*$ ]]; then
        settings_error "KEEP_DAILY must be >= 1 (got '$KEEP_DAILY')"
    fi
    if ! [[ $OFFSITE_RETRY_DELAY =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        settings_error "OFFSITE_RETRY_DELAY must be a number of seconds (got '$OFFSITE_RETRY_DELAY')"
    fi
}

settings_error() {
    echo "$1" >&2
    if [[ -n ${LOG_FILE:-} ]]; then
        log ERROR "$1"
        ERROR_LOGGED=true
    fi
    exit 2
}
