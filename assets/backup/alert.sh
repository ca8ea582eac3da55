#!/usr/bin/env bash
# coinpilot alert: tells the operator that a job failed (or, with status 0, sends a job's daily
# heartbeat). Called by lib.sh's exit handler when a backup, verify, rehearsal or upload run fails,
# by backup_freshness.sh every day, and by coinpilot-alert@.service when coinpilot-compose.service
# fails (OnFailure=).
#
#   alert.sh JOB STATUS LOG_FILE        the last lines of LOG_FILE go with the message
#   alert.sh JOB STATUS --unit UNIT     the last journal lines of UNIT go with it
#
# The message always goes to the journal (tag coinpilot-alert). It is posted to Discord too when
# the root-only ALERT_WEBHOOK_FILE exists, at most once per JOB per ALERT_INTERVAL seconds. The
# webhook URL reaches curl on stdin (--config -), never argv, and is never printed.
#   ALERT_WEBHOOK_FILE  line 1: the Discord webhook URL     (default /etc/coinpilot-ops/alert-webhook)
#   ALERT_STATE_DIR     when each job last posted           (default /var/lib/coinpilot-ops/alerts)
#   ALERT_INTERVAL      seconds between two posts of a job  (default 3600)
#   ALERT_LINES         log lines sent along                (default 15)
#   ALERT_LOGGER        the journal writer, reads the message on stdin (default logger -t coinpilot-alert)
#   CURL, JOURNALCTL    command prefixes, for the tests     (default curl, journalctl)
set -uo pipefail
umask 077

ALERT_WEBHOOK_FILE=${ALERT_WEBHOOK_FILE:-/etc/coinpilot-ops/alert-webhook}
ALERT_STATE_DIR=${ALERT_STATE_DIR:-/var/lib/coinpilot-ops/alerts}
ALERT_INTERVAL=${ALERT_INTERVAL:-3600}
ALERT_LINES=${ALERT_LINES:-15}
ALERT_LOGGER=${ALERT_LOGGER:-logger -t coinpilot-alert}
CURL=${CURL:-curl}
JOURNALCTL=${JOURNALCTL:-journalctl}

if (($# != 3 && $# != 4)) || [[ ! $1 =~ ^[A-Za-z0-9_.@-]+$ ]] || [[ ! $2 =~ ^[0-9]+$ ]]; then
    echo "usage: alert.sh JOB STATUS LOG_FILE | alert.sh JOB STATUS --unit UNIT" >&2
    exit 2
fi
job=$1 status=$2
if [[ $3 == --unit ]]; then
    source_name="journal of $4"
    lines=$($JOURNALCTL -u "$4" -n "$ALERT_LINES" --no-pager -o cat 2>&1)
else
    source_name=$3
    lines=$(tail -n "$ALERT_LINES" -- "$3" 2>&1)
fi
if ((status == 0)); then
    headline="OK: $job on $(hostname) (heartbeat)"
else
    headline="FAILED: $job on $(hostname), exit $status"
fi
message="$headline
last lines of $source_name:
$lines"

journal() {
    $ALERT_LOGGER <<<"$1" || printf '%s\n' "$1" >&2
}

journal "$message"

[[ -e $ALERT_WEBHOOK_FILE ]] || exit 0
mkdir -p -- "$ALERT_STATE_DIR"
stamp="$ALERT_STATE_DIR/$job.last"
now=$(date +%s)
last=$(cat -- "$stamp" 2>/dev/null || echo 0)
[[ $last =~ ^[0-9]+$ ]] || last=0
if ((now - last < ALERT_INTERVAL)); then
    journal "$job: not posted to Discord, its last post was $((now - last))s ago (at most one per ${ALERT_INTERVAL}s)"
    exit 0
fi
url=""
read -r url <"$ALERT_WEBHOOK_FILE" || true
if [[ ! $url =~ ^https?://[^[:space:]\"\\]+$ ]]; then
    journal "$ALERT_WEBHOOK_FILE does not hold a webhook URL on its first line (not shown: it is a secret); not posted"
    exit 1
fi

# JSON string escaping, then Discord's 2000-character limit (with room for the code fence).
json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/ }
    s=${s//$'\r'/}
    s=${s//$'\n'/\\n}
    printf '"%s"' "$(tr -d '\000-\010\013-\037' <<<"$s")"
}
((${#lines} > 1800)) && lines=${lines: -1800}
body="$headline"$'\n'"\`\`\`"$'\n'"$lines"$'\n'"\`\`\`"
payload=$(mktemp)
trap 'rm -f -- "$payload"' EXIT
printf '{"content":%s,"allowed_mentions":{"parse":[]}}' "$(json_string "$body")" >"$payload"
code=$(printf 'url = "%s"\n' "$url" |
    $CURL --config - --silent --show-error --max-time 20 --output /dev/null --write-out '%{http_code}' \
        --header 'Content-Type: application/json' --data-binary "@$payload" 2>&1)
url=""
if [[ $code == 2?? ]]; then
    printf '%s\n' "$now" >"$stamp"
    exit 0
fi
# curl's own messages name the host at most; the token in the URL path is never in them.
journal "$job: posting to Discord failed (${code//$'\n'/ }); the next failure tries again"
exit 1
