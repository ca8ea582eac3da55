#!/usr/bin/env bash
# The runbook's 24-hour monitoring check (seed 001, 11.3 and 13.4) and its metrics check (6.3) as one
# command, run on the host after a deploy or a config change, or any time:
#
#   sudo /opt/coinpilot-ops/ops-check.sh [--since DURATION] [--output FILE]
#
# DURATION is the window looked back over (30m, 6h, 24h; default 24h); FILE gets the report appended
# (e.g. /var/log/coinpilot/monitoring-24h.log). Every check runs, each prints PASS or FAIL with why,
# and the last line is "[RESULT] PASSED" (exit 0) or "[RESULT] FAILED: <checks>" (exit 1); bad
# usage exits 2.
#   health    the deploy's health gate, once (health-check.sh): unit active (exited), every service
#             running and not unhealthy, no internal port on all interfaces, the app's preflight
#   restarts  no container restarted by Docker within the window, none killed by the OOM killer
#   logs      no error lines within the window: bot `critical|traceback|undefined|failed` (6.2,
#             11.3), n8n `error|failed|not registered` (11.3; "not registered" is 8.1's webhook 404)
#   bot       the bot's heartbeat: it logs without a silence longer than BOT_SILENCE_MINUTES (11.3,
#             T+6h "no gaps in the log"), and its bot:status:* keys are in Redis (seed 002)
#   targets   every active Prometheus target is up, the coinpilot-core job among them (6.3, T+1h):
#             GET PROMETHEUS_URL/api/v1/targets on the host's loopback
#   grafana   Grafana's alert rules are Normal (not pending or firing, evaluating without error), the
#             three of 9.1 among them (6.3, T+1h): GET GRAFANA_URL/api/prometheus/grafana/api/v1/rules
#             as the .env's GRAFANA_ADMIN_USER (the password reaches curl on stdin, never argv)
#   backups   the newest backup of each kind is under 26 h old (backup_freshness.sh, without its
#             heartbeat post and its log; T+24h)
#
# Runs as root (docker, the backups). Commands and paths are variables, so tests run it against
# stand-ins: DOCKER, CURL (and SYSTEMCTL, JOURNALCTL for health-check.sh), HEALTH_CHECK,
# FRESHNESS_CHECK, APP_DIR, COMPOSE_FILE, COMPOSE_ENV_FILE, UNIT, PROMETHEUS_URL, PROMETHEUS_JOBS,
# GRAFANA_URL, GRAFANA_RULES, REDIS_CONTAINER, BOT_SERVICE, N8N_SERVICE, BOT_ERRORS, N8N_ERRORS,
# BOT_SILENCE_MINUTES, CALL_TIMEOUT.
set -uo pipefail

DOCKER=${DOCKER:-docker}
CURL=${CURL:-curl}
UNIT=${UNIT:-coinpilot-compose.service}
APP_DIR=${APP_DIR:-/opt/coin-pilot}
COMPOSE_FILE=${COMPOSE_FILE:-deploy/cloud/oci/docker-compose.prod.yml}
COMPOSE_ENV_FILE=${COMPOSE_ENV_FILE:-deploy/cloud/oci/.env}
HEALTH_CHECK=${HEALTH_CHECK:-/opt/coinpilot-ops/health-check.sh}
FRESHNESS_CHECK=${FRESHNESS_CHECK:-/opt/coinpilot-ops/backup/backup_freshness.sh}
PROMETHEUS_URL=${PROMETHEUS_URL:-http://127.0.0.1:9090}
PROMETHEUS_JOBS=${PROMETHEUS_JOBS:-coinpilot-core}
GRAFANA_URL=${GRAFANA_URL:-http://127.0.0.1:3000}
GRAFANA_RULES=${GRAFANA_RULES:-BotDown ApiLatencyP95High VolatilityMetricMissing}
REDIS_CONTAINER=${REDIS_CONTAINER:-coinpilot-redis}
BOT_SERVICE=${BOT_SERVICE:-bot}
N8N_SERVICE=${N8N_SERVICE:-n8n}
BOT_ERRORS=${BOT_ERRORS:-critical|traceback|undefined|failed}
N8N_ERRORS=${N8N_ERRORS:-error|failed|not registered}
BOT_SILENCE_MINUTES=${BOT_SILENCE_MINUTES:-30}
CALL_TIMEOUT=${CALL_TIMEOUT:-120}

usage="usage: ops-check.sh [--since DURATION] [--output FILE]   DURATION: a number and s, m or h (default 24h)"
SINCE=24h
OUTPUT=""
while (($#)); do
    case $1 in
        --since | --output)
            (($# >= 2)) || { echo "$usage" >&2; exit 2; }
            if [[ $1 == --since ]]; then SINCE=$2; else OUTPUT=$2; fi
            shift 2
            ;;
        --since=*) SINCE=${1#--since=}; shift ;;
        --output=*) OUTPUT=${1#--output=}; shift ;;
        -h | --help) echo "$usage"; exit 0 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
if [[ ! $SINCE =~ ^([1-9][0-9]{0,5})([smh])$ ]]; then
    echo "--since '$SINCE': $usage" >&2
    exit 2
fi
case ${BASH_REMATCH[2]} in
    s) WINDOW=${BASH_REMATCH[1]} ;;
    m) WINDOW=$((BASH_REMATCH[1] * 60)) ;;
    h) WINDOW=$((BASH_REMATCH[1] * 3600)) ;;
esac

# A command prefix of several words (a test's stand-in, `sudo docker`) runs as one command.
read -r -a docker_cmd <<<"$DOCKER"
WORK=$(mktemp -d)
trap 'rm -rf -- "$WORK"' EXIT

# What Docker and Prometheus answer is JSON; python3 ships with every Ubuntu cloud image. Modes:
#   restarts INSPECT_JSON WINDOW   containers restarted by Docker within WINDOW seconds, or OOM-killed
#   silence LOG WINDOW MINUTES     the longest silence of a `logs --timestamps` file, and until now
#   targets TARGETS_JSON JOBS      active targets that are not up, and required jobs without one
#   rules RULES_JSON NAMES         Grafana alert rules not Normal, and required rules missing
# The first line printed is the verdict's summary; the exit status is the verdict.
inspect() {
    python3 - "$@" <<'PY'
import calendar, json, re, sys, time

def epoch(text):
    """Seconds of an RFC 3339 time as Docker writes it (nanoseconds, Z or an offset); None if not one."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)", text or "")
    if not m:
        return None
    seconds = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    if m.group(2) != "Z":
        sign = 1 if m.group(2)[0] == "+" else -1
        seconds -= sign * (int(m.group(2)[1:3]) * 3600 + int(m.group(2)[4:6]) * 60)
    return seconds

def ago(seconds):
    seconds = max(0, int(seconds))
    return "%dh%02dm" % (seconds // 3600, seconds // 60 % 60) if seconds >= 3600 else "%dm" % (seconds // 60)

now = time.time()
mode = sys.argv[1]
if mode == "restarts":
    with open(sys.argv[2]) as f:
        containers = json.load(f)
    start = now - int(sys.argv[3])
    problems = []
    for c in containers:
        name = c.get("Name", "?").lstrip("/")
        state = c.get("State") or {}
        count = int(c.get("RestartCount") or 0)
        started = epoch(state.get("StartedAt"))
        if state.get("OOMKilled"):
            problems.append("%s: killed by the OOM killer (%s, exit %s)" % (name, state.get("Status"), state.get("ExitCode")))
        if count and started is not None and started >= start:
            problems.append("%s: restarted by Docker (%d restart%s since it was created, the last %s ago)" % (name, count, "" if count == 1 else "s", ago(now - started)))
    if problems:
        print("%d of %d containers restarted or OOM-killed" % (len(problems), len(containers)))
        print("\n".join(problems))
        sys.exit(1)
    print("%d containers, none restarted by Docker or OOM-killed in the window" % len(containers))
elif mode == "silence":
    with open(sys.argv[2], errors="replace") as f:
        stamps = [t for t in (epoch(line.split(" ", 1)[0]) for line in f) if t is not None]
    limit = int(sys.argv[4]) * 60
    if not stamps:
        print("the bot logged nothing in the window (limit %s)" % ago(limit))
        sys.exit(1)
    points = sorted(stamps) + [now]
    gap, at = max((b - a, a) for a, b in zip(points, points[1:]))
    summary = "the bot's last log line is %s old, its longest silence %s (limit %s)" % (ago(now - stamps[-1]), ago(gap), ago(limit))
    if gap > limit:
        print("%s, from %s UTC" % (summary, time.strftime("%Y-%m-%d %H:%M", time.gmtime(at))))
        sys.exit(1)
    print(summary)
elif mode == "targets":
    with open(sys.argv[2]) as f:
        answer = json.load(f)
    targets = ((answer.get("data") or {}).get("activeTargets")) or []
    down, up = [], []
    for t in targets:
        labels = t.get("labels") or {}
        where = "%s (%s)" % (labels.get("job") or t.get("scrapePool") or "?", labels.get("instance") or t.get("scrapeUrl") or "?")
        if t.get("health") == "up":
            up.append(where)
        else:
            down.append("%s: %s%s" % (where, t.get("health") or "unknown", ": " + t["lastError"] if t.get("lastError") else ""))
    jobs = {(t.get("labels") or {}).get("job") for t in targets}
    missing = ["job %s: no active target (is it in prometheus.yml?)" % job for job in sys.argv[3].split() if job not in jobs]
    if answer.get("status") != "success" or down or missing or not targets:
        words = ["%d of %d targets not up" % (len(down), len(targets))] if targets else ["Prometheus has no active target"]
        words += ["%d required job(s) without a target" % len(missing)] if missing else []
        print(", ".join(words))
        print("\n".join(down + missing))
        sys.exit(1)
    print("%d targets up: %s" % (len(up), ", ".join(up)))
elif mode == "rules":
    with open(sys.argv[2]) as f:
        answer = json.load(f)
    rules = [r for g in ((answer.get("data") or {}).get("groups") or []) for r in (g.get("rules") or [])]
    problems, notes = [], []
    for r in rules:
        state, health = r.get("state") or "inactive", r.get("health") or "ok"
        if state != "inactive" or health == "error":
            problems.append("%s: %s%s%s" % (r.get("name"), "Normal" if state == "inactive" else state, ", health " + health if health != "ok" else "", ": " + r["lastError"] if r.get("lastError") else ""))
        elif health != "ok":
            notes.append("%s: Normal, health %s (9.2: its No data handling is Normal)" % (r.get("name"), health))
    names = {r.get("name") for r in rules}
    missing = ["%s: no such alert rule (seed 001, 9.1)" % name for name in sys.argv[3].split() if name not in names]
    if answer.get("status") != "success" or problems or missing:
        words = ["%d of %d alert rules not Normal" % (len(problems), len(rules))]
        words += ["%d required rule(s) missing" % len(missing)] if missing else []
        print(", ".join(words))
        print("\n".join(problems + missing + notes))
        sys.exit(1)
    print("%d alert rules Normal: %s" % (len(rules), ", ".join(sorted(str(n) for n in names))))
    if notes:
        print("\n".join(notes))
else:
    sys.exit("unknown mode " + mode)
PY
}

compose() {
    (cd "$APP_DIR" && timeout "$CALL_TIMEOUT" "${docker_cmd[@]}" compose --env-file "$COMPOSE_ENV_FILE" -f "$COMPOSE_FILE" "$@")
}

# A value of the app's .env (the program writes generated ones bare; a quoted one loses its quotes).
env_value() {
    sed -n "s/^$1=//p" "$APP_DIR/$COMPOSE_ENV_FILE" 2>/dev/null | tail -n 1 | sed -E "s/^'(.*)'\$/\\1/"
}

check_health() {
    local status=0
    HEALTH_ATTEMPTS=1 timeout 600 bash "$HEALTH_CHECK" "$UNIT" "$APP_DIR" "$COMPOSE_FILE" "$COMPOSE_ENV_FILE" >"$WORK/health.out" 2>&1 || status=$?
    if ((status == 0)); then
        tail -n 1 "$WORK/health.out"
        head -n -1 "$WORK/health.out"
        return 0
    fi
    echo "the deploy's health gate fails (exit $status); its last lines say why:"
    # Without the compose unit's journal, which health-check.sh prints in full.
    awk '/^--- journalctl/ { skip = 1; next } /^--- docker compose ps/ { skip = 0 } !skip' "$WORK/health.out" | tail -n 30
    return 1
}

check_restarts() {
    local -a ids
    mapfile -t ids < <(compose ps --all --quiet 2>"$WORK/ps.err")
    if ((${#ids[@]} == 0)); then
        echo "no containers of the stack ($(paste -sd' ' "$WORK/ps.err"))"
        return 1
    fi
    if ! timeout "$CALL_TIMEOUT" "${docker_cmd[@]}" inspect "${ids[@]}" >"$WORK/inspect.json" 2>"$WORK/inspect.err"; then
        echo "docker inspect failed: $(paste -sd' ' "$WORK/inspect.err")"
        return 1
    fi
    inspect restarts "$WORK/inspect.json" "$WINDOW"
}

# The window's logs of each service, once, with Docker's timestamps: the logs and bot checks read them.
fetch_logs() {
    local service
    for service in "$BOT_SERVICE" "$N8N_SERVICE"; do
        compose logs --no-color --no-log-prefix --timestamps --since "$SINCE" "$service" >"$WORK/$service.log" 2>"$WORK/$service.err" ||
            echo "docker compose logs $service failed: $(paste -sd' ' "$WORK/$service.err")" >"$WORK/$service.failed"
    done
}

check_logs() {
    local service pattern count line
    local -a bad=() good=() details=()
    for service in "$BOT_SERVICE" "$N8N_SERVICE"; do
        pattern=$N8N_ERRORS
        [[ $service == "$BOT_SERVICE" ]] && pattern=$BOT_ERRORS
        if [[ -e $WORK/$service.failed ]]; then
            bad+=("$(cat "$WORK/$service.failed")")
            continue
        fi
        count=$(grep -Eic -- "$pattern" "$WORK/$service.log")
        if ((count > 0)); then
            bad+=("$service: $count line(s) match $pattern")
            details+=("--- $service, the last of them:")
            mapfile -t -O "${#details[@]}" details < <(grep -Ei -- "$pattern" "$WORK/$service.log" | tail -n 5 | cut -c1-300)
        else
            good+=("$service: no line matches $pattern")
        fi
    done
    if ((${#bad[@]})); then
        joined "${bad[@]}"
        for line in "${good[@]}" "${details[@]}"; do
            printf '%s\n' "$line"
        done
        return 1
    fi
    joined "${good[@]}"
}

# The arguments on one line, separated by "; ".
joined() {
    local line
    line=$(printf '%s; ' "$@")
    printf '%s\n' "${line%; }"
}

check_bot() {
    local status=0 silence keys count
    silence=$(inspect silence "$WORK/$BOT_SERVICE.log" "$WINDOW" "$BOT_SILENCE_MINUTES") || status=1
    [[ -e $WORK/$BOT_SERVICE.failed ]] && { silence=$(cat "$WORK/$BOT_SERVICE.failed"); status=1; }
    # The password goes to redis-cli through the environment (REDISCLI_AUTH), never argv.
    if keys=$(REDISCLI_AUTH=$(env_value REDIS_PASSWORD) timeout "$CALL_TIMEOUT" "${docker_cmd[@]}" exec -e REDISCLI_AUTH "$REDIS_CONTAINER" redis-cli --scan --pattern 'bot:status:*' 2>&1); then
        count=$(grep -c '^bot:status:' <<<"$keys")
        if ((count > 0)); then
            keys="$count bot:status:* key(s) in Redis: $(grep '^bot:status:' <<<"$keys" | sort | head -n 5 | paste -sd' ' -)"
        else
            keys="no bot:status:* key in Redis: the bot has not written its status${keys:+ ($(head -n 1 <<<"$keys"))}"
            status=1
        fi
    else
        keys="reading bot:status:* from $REDIS_CONTAINER failed: $(head -n 1 <<<"$keys")"
        status=1
    fi
    printf '%s\n%s\n' "$silence" "$keys"
    return "$status"
}

check_targets() {
    local code
    if ! code=$($CURL --silent --show-error --max-time 20 --output "$WORK/targets.json" --write-out '%{http_code}' "$PROMETHEUS_URL/api/v1/targets?state=active" 2>&1); then
        echo "Prometheus does not answer at $PROMETHEUS_URL: ${code//$'\n'/ }"
        return 1
    fi
    if [[ $code != 200 ]]; then
        echo "Prometheus answered HTTP $code at $PROMETHEUS_URL/api/v1/targets"
        return 1
    fi
    inspect targets "$WORK/targets.json" "$PROMETHEUS_JOBS"
}

check_grafana() {
    local code
    # The admin password goes to curl in its config on stdin, never on a command line.
    if ! code=$(printf 'user = "%s:%s"\n' "$(env_value GRAFANA_ADMIN_USER)" "$(env_value GRAFANA_ADMIN_PASSWORD)" |
        $CURL --config - --silent --show-error --max-time 20 --output "$WORK/rules.json" --write-out '%{http_code}' "$GRAFANA_URL/api/prometheus/grafana/api/v1/rules" 2>&1); then
        echo "Grafana does not answer at $GRAFANA_URL: ${code//$'\n'/ }"
        return 1
    fi
    if [[ $code == 401 ]]; then
        echo "Grafana refused the .env's GRAFANA_ADMIN_USER/GRAFANA_ADMIN_PASSWORD (HTTP 401; changed in the UI?)"
        return 1
    elif [[ $code != 200 ]]; then
        echo "Grafana answered HTTP $code at $GRAFANA_URL/api/prometheus/grafana/api/v1/rules"
        return 1
    fi
    inspect rules "$WORK/rules.json" "$GRAFANA_RULES"
}

check_backups() {
    local status=0 log="$WORK/freshness/backup_freshness.log"
    # ALERT_CMD that cannot run: no heartbeat post, no alert; its log goes to WORK, not the host's logs.
    ALERT_CMD=/dev/null LOG_DIR="$WORK/freshness" bash "$FRESHNESS_CHECK" >"$WORK/freshness.out" 2>&1 || status=$?
    if [[ -s $log ]]; then
        sed -E 's/^[^ ]+ \[backup_freshness\] [A-Z]+ //' "$log"
    else
        cat "$WORK/freshness.out"
    fi
    return "$status"
}

say() {
    printf '%s\n' "$*"
    if [[ -n $OUTPUT ]]; then
        printf '%s\n' "$*" >>"$OUTPUT"
    fi
}

failed=()
# run_check NAME FUNCTION: one line with the verdict and the summary, then the details, indented.
run_check() {
    local name=$1 out="$WORK/$1.report" status=0 verdict=PASS line
    "$2" >"$out" 2>&1 || status=$?
    if ((status != 0)); then
        verdict=FAIL
        failed+=("$name")
    fi
    say "$(printf '%s  %-8s  %s' "$verdict" "$name" "$(head -n 1 "$out")")"
    while IFS= read -r line; do
        say "                $line"
    done < <(tail -n +2 "$out")
}

if [[ -n $OUTPUT ]] && ! : >>"$OUTPUT"; then
    echo "--output $OUTPUT: cannot write there" >&2
    exit 2
fi
say "CoinPilot ops check on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ), window $SINCE"
fetch_logs
run_check health check_health
run_check restarts check_restarts
run_check logs check_logs
run_check bot check_bot
run_check targets check_targets
run_check grafana check_grafana
run_check backups check_backups
if ((${#failed[@]})); then
    say "[RESULT] FAILED: ${failed[*]}"
    exit 1
fi
say "[RESULT] PASSED"
