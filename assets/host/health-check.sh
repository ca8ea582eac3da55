#!/usr/bin/env bash
# Step 7: the deploy is healthy when the unit is "active (exited)" (a oneshot that started the
# stack) and every Compose service has a running container that is not unhealthy, or, for a run-once
# service (migrations, init: restart "no"), a container that exited 0. Fails at once,
# loudly, if a port other than the public ones is published on all interfaces: the internal
# services (db, redis, n8n, dashboard, grafana, prometheus) must stay on 127.0.0.1.
# On failure prints the unit's journal tail and `compose ps`, then the reason. Also reports (a WARN line, not a
# failure) the keys the app's .env.example lists that the .env lacks, and the memory, swap and disk
# headroom (the OOM and full disk the seeds warn about), and any backup cron besides ours. If the
# checkout ships the runbook's security preflight (seed 001, 5.3), it runs first against the .env and
# the deploy fails unless it prints `[RESULT] PASSED`.
#
# Runs as root: by the deploy's health step, at every boot (coinpilot-health.service, installed as
# /opt/coinpilot-ops/health-check.sh; a failure alerts), and once by ops-check.sh (HEALTH_ATTEMPTS=1).
# DOCKER, SYSTEMCTL, JOURNALCTL and the polling budget are variables so tests can run it against
# recorded Compose output.
set -euo pipefail

DOCKER="${DOCKER:-docker}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
JOURNALCTL="${JOURNALCTL:-journalctl}"
HEALTH_ATTEMPTS="${HEALTH_ATTEMPTS:-90}"
HEALTH_INTERVAL="${HEALTH_INTERVAL:-10}"
PUBLIC_PORTS="${PUBLIC_PORTS:-80 443}"
MEMINFO="${MEMINFO:-/proc/meminfo}"
DISK_PATHS="${DISK_PATHS:-/ /srv/coinpilot-data}"
CRON_PATHS="${CRON_PATHS:-/etc/cron.d /etc/crontab /var/spool/cron/crontabs}"
OUR_CRON="${OUR_CRON:-/etc/cron.d/coinpilot-backup}"
PREFLIGHT="${PREFLIGHT:-scripts/security/preflight_security_check.sh}"
PREFLIGHT_TIMEOUT="${PREFLIGHT_TIMEOUT:-300}"

usage="usage: health-check.sh UNIT_NAME APP_DIR COMPOSE_FILE ENV_FILE"

# Checks recorded Compose output (python3 ships with every Ubuntu cloud image). Modes:
#   exposed CONFIG_JSON            ports published on all interfaces, other than PUBLIC_PORTS
#   not-running CONFIG_JSON PS_JSON  services without a running, not-unhealthy container, except
#                                  run-once services (restart "no") whose container exited 0
# `compose ps --format json` is a JSON array before Compose 2.21 and one object per line since.
inspect() {
    python3 - "$@" <<'PY'
import json, os, sys

mode, config_path = sys.argv[1], sys.argv[2]
with open(config_path) as f:
    services = json.load(f).get("services") or {}

if mode == "exposed":
    public = set(os.environ.get("PUBLIC_PORTS", "").split())
    for name, service in sorted(services.items()):
        for port in service.get("ports") or []:
            published = str(port.get("published") or "")
            host_ip = port.get("host_ip") or "0.0.0.0"
            if published and host_ip in ("0.0.0.0", "::") and published not in public:
                print("%s: %s->%s/%s on %s" % (name, published, port.get("target"), port.get("protocol", "tcp"), host_ip))
elif mode == "not-running":
    with open(sys.argv[3]) as f:
        text = f.read().strip()
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line.strip()]

    def run_once(name):
        # restart "no" (Compose's default) and no deploy restart policy: a migration or init job.
        service = services.get(name) or {}
        condition = ((service.get("deploy") or {}).get("restart_policy") or {}).get("condition")
        return service.get("restart", "no") == "no" and condition in (None, "none")

    def done(r):
        if r.get("State") == "running":
            return r.get("Health", "") != "unhealthy"
        return r.get("State") == "exited" and r.get("ExitCode") == 0 and run_once(r.get("Service"))

    def describe(r):
        words = [str(r.get("State")), r.get("Health") or ""]
        if r.get("State") == "exited" and "ExitCode" in r:
            words.append("(exit %s)" % r["ExitCode"])
        return " ".join(w for w in words if w)

    good = {r.get("Service") for r in rows if done(r)}
    seen = {r.get("Service"): describe(r) for r in rows}
    for name in sorted(set(services) - good):
        print("%s: %s" % (name, seen.get(name, "no container")))
else:
    sys.exit("unknown mode " + mode)
PY
}

# The reason comes last, after the evidence: the tail of the output (what the boot check's alert
# sends, what `pulumi up` ends its error with) says why.
fail() {
    echo "--- journalctl -u $UNIT (last 60 lines)" >&2
    $JOURNALCTL -u "$UNIT" -n 60 --no-pager >&2 || true
    echo "--- docker compose ps" >&2
    compose ps --all >&2 || true
    echo "$1" >&2
    exit 1
}

compose() {
    (cd "$APP_DIR" && $DOCKER compose --env-file "$ENV_FILE" -f "$COMPOSE_FILE" "$@")
}

# Variable names a KEY=value file sets, sorted.
env_keys() {
    sed -nE 's/^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=.*/\2/p' "$1" | sort -u
}

# The app's .env.example (beside the .env, else at the checkout's top) lists the variables it reads:
# the ones the .env lacks are named, so an operator adds them to coinpilot:appEnv or appSecretEnv.
report_missing_env_keys() {
    local example missing
    for example in "$APP_DIR/$(dirname "$ENV_FILE")/.env.example" "$APP_DIR/.env.example"; do
        [ -f "$example" ] || continue
        missing="$(comm -23 <(env_keys "$example") <(env_keys "$APP_DIR/$ENV_FILE") | paste -sd' ' -)"
        if [ -n "$missing" ]; then
            echo "WARN: ${example#"$APP_DIR"/} lists keys the .env lacks (add them to coinpilot:appEnv or coinpilot:appSecretEnv): $missing"
        else
            echo "the .env has every key ${example#"$APP_DIR"/} lists"
        fi
        return
    done
}

# One line: available memory and free swap (MemAvailable counts reclaimable caches), and the free
# space of each filesystem in DISK_PATHS that exists (the boot volume, the data volume).
report_headroom() {
    local memory path disks=""
    memory="$(awk '/^(MemTotal|MemAvailable|SwapTotal|SwapFree):/ { v[$1] = int($2 / 1024) }
        END { printf "memory %d MiB available of %d MiB, swap %d MiB free of %d MiB", v["MemAvailable:"], v["MemTotal:"], v["SwapFree:"], v["SwapTotal:"] }' "$MEMINFO")"
    for path in $DISK_PATHS; do
        [ -d "$path" ] || continue
        disks="$disks, $(df -P -h "$path" | awk -v p="$path" 'NR == 2 { printf "%s %s free of %s (%s used)", p, $4, $2, $5 }')"
    done
    echo "headroom: $memory; disk${disks#,}"
}

# Ours is the only backup system: a cron entry elsewhere that runs backup scripts (the runbook's
# /opt/coin-pilot/scripts/backup/*, installed by hand or by the app), or a cron file the checkout
# ships for them, would run a second, parallel one. Named, not removed: the operator decides.
report_backup_crons() {
    local found="" file
    local -a cron_paths
    read -r -a cron_paths <<<"$CRON_PATHS"
    found="$(grep -rlE '^[^#]*(scripts/backup/|_backup\.sh)' "${cron_paths[@]}" 2>/dev/null | grep -vxF "$OUR_CRON" || true)"
    for file in $found; do
        echo "WARN: $file schedules backups besides ours ($OUR_CRON): a second, parallel backup system; remove it (README, 'The runbook on this layout')"
    done
    found="$(grep -rlE --exclude-dir=.git --include='*cron*' '^[^#]*_backup\.sh' "$APP_DIR" 2>/dev/null || true)"
    for file in $found; do
        echo "WARN: the app ships a backup cron (${file#"$APP_DIR"/}); do not install it: $OUR_CRON runs the backups"
    done
}

# The app's own check of its .env (seed 001, 5.3), run as the runbook runs it; only its result line
# is shown when it passes, its last lines when it does not.
run_preflight() {
    local out status=0
    [ -f "$APP_DIR/$PREFLIGHT" ] || return 0
    out="$(cd "$APP_DIR" && timeout "$PREFLIGHT_TIMEOUT" bash "$PREFLIGHT" "$APP_DIR/$ENV_FILE" 2>&1)" || status=$?
    if [ "$status" -eq 0 ] && grep -qE '^\[RESULT\] PASSED[[:space:]]*$' <<<"$out"; then
        echo "$PREFLIGHT: [RESULT] PASSED"
        return
    fi
    printf '%s failed (exit %s, no "[RESULT] PASSED" line); its last lines:\n' "$PREFLIGHT" "$status" >&2
    tail -n 20 <<<"$out" >&2
    exit 1
}

main() {
    UNIT="${1:?$usage}" APP_DIR="${2:?$usage}" COMPOSE_FILE="${3:?$usage}" ENV_FILE="${4:?$usage}"
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT

    run_preflight
    report_missing_env_keys
    report_headroom
    report_backup_crons
    compose config --format json >"$WORK/config.json"
    local exposed
    exposed="$(PUBLIC_PORTS="$PUBLIC_PORTS" inspect exposed "$WORK/config.json")"
    if [ -n "$exposed" ]; then
        fail "$(printf 'EXPOSED: published on all interfaces (bind them to 127.0.0.1 in %s):\n%s' "$COMPOSE_FILE" "$exposed")"
    fi

    local attempt state problems=""
    for ((attempt = 1; attempt <= HEALTH_ATTEMPTS; attempt++)); do
        state="$($SYSTEMCTL show -p ActiveState -p SubState --value "$UNIT" | paste -sd/ -)"
        case "$state" in
            active/exited)
                compose ps --all --format json >"$WORK/ps.json"
                problems="$(inspect not-running "$WORK/config.json" "$WORK/ps.json")"
                if [ -z "$problems" ]; then
                    echo "$UNIT active (exited); all services running"
                    return
                fi
                ;;
            failed/*) fail "$UNIT failed ($state)" ;;
            *) problems="$UNIT is $state" ;;
        esac
        [ "$attempt" -lt "$HEALTH_ATTEMPTS" ] && sleep "$HEALTH_INTERVAL"
    done
    fail "$(printf 'not healthy after %s checks:\n%s' "$HEALTH_ATTEMPTS" "$problems")"
}

main "$@"
