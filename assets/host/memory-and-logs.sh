#!/usr/bin/env bash
# Step: guards against the OOM and the full disk the seeds warn about (003: a 12 GB host building
# images while 8 services run). Runs before Docker's first start, so the log limits apply to every
# container from the start.
# - A swap file of SWAP_GB GiB (0: none; a swap file of ours left by an earlier deploy is removed),
#   in /etc/fstab so it survives a reboot, with vm.swappiness=10: it catches a build's peak instead
#   of the OOM killer, and stays out of the way otherwise.
# - Docker's default log driver json-file with max-size/max-file in daemon.json (other keys, such as
#   the data volume's data-root, kept), so container logs cannot fill the boot volume. Docker reads it
#   at start: on a host where it already runs, the limits apply after its next restart (a reboot).
# Runs as root; idempotent. Paths and commands are variables so tests can run it in a temp root.
set -euo pipefail

SWAP_FILE="${SWAP_FILE:-/coinpilot.swap}"
FSTAB="${FSTAB:-/etc/fstab}"
SYSCTL_CONF="${SYSCTL_CONF:-/etc/sysctl.d/60-coinpilot-swap.conf}"
DAEMON_JSON="${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"
LOG_MAX_SIZE="${LOG_MAX_SIZE:-20m}"
LOG_MAX_FILE="${LOG_MAX_FILE:-5}"
MKSWAP="${MKSWAP:-mkswap}"
SWAPON="${SWAPON:-swapon}"
SWAPOFF="${SWAPOFF:-swapoff}"
SYSCTL="${SYSCTL:-sysctl}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"

log() { printf 'memory-and-logs: %s\n' "$*"; }

swap_active() {
    $SWAPON --show=NAME --noheadings | grep -qxF "$SWAP_FILE"
}

set_swap() {
    local gb=$1 want size fstab_line="$SWAP_FILE none swap sw 0 0"
    want=$((gb * 1024 * 1024 * 1024))
    size="$(stat -c %s "$SWAP_FILE" 2>/dev/null || echo 0)"
    if ((gb == 0)) || ((size != want)); then
        if swap_active; then $SWAPOFF "$SWAP_FILE"; fi
        rm -f "$SWAP_FILE"
        if [ -f "$FSTAB" ]; then
            grep -vxF "$fstab_line" "$FSTAB" >"$FSTAB.tmp" || true
            cat "$FSTAB.tmp" >"$FSTAB" && rm -f "$FSTAB.tmp"
        fi
        rm -f "$SYSCTL_CONF"
        if ((gb == 0)); then
            log "no swap file (coinpilot:swapSizeGb is 0)"
            return
        fi
        # fallocate is instant on ext4; dd is the fallback where it is not supported.
        fallocate -l "$want" "$SWAP_FILE" 2>/dev/null || dd if=/dev/zero of="$SWAP_FILE" bs=1M count=$((gb * 1024)) status=none
        chmod 600 "$SWAP_FILE"
        $MKSWAP "$SWAP_FILE" >/dev/null
        log "created $SWAP_FILE ($gb GiB)"
    fi
    grep -qxF "$fstab_line" "$FSTAB" 2>/dev/null || printf '%s\n' "$fstab_line" >>"$FSTAB"
    if ! swap_active; then $SWAPON "$SWAP_FILE"; fi
    printf 'vm.swappiness=10\n' >"$SYSCTL_CONF"
    $SYSCTL -q -p "$SYSCTL_CONF"
    log "swap $SWAP_FILE active ($gb GiB), in $FSTAB, vm.swappiness=10"
}

set_log_limits() {
    local changed
    mkdir -p "$(dirname "$DAEMON_JSON")"
    changed="$(python3 - "$DAEMON_JSON" "$LOG_MAX_SIZE" "$LOG_MAX_FILE" <<'PY'
import json, os, sys
path, size, count = sys.argv[1:4]
config = {}
if os.path.exists(path):
    with open(path) as f:
        config = json.load(f)
wanted = dict(config, **{"log-driver": "json-file", "log-opts": dict(config.get("log-opts") or {}, **{"max-size": size, "max-file": count})})
if wanted != config:
    with open(path + ".tmp", "w") as f:
        json.dump(wanted, f, indent=2)
        f.write("\n")
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
    print("changed")
PY
)" || { echo "memory-and-logs: $DAEMON_JSON is not valid JSON; fix it by hand" >&2; exit 1; }
    if [ -z "$changed" ]; then
        log "$DAEMON_JSON already limits container logs (json-file, max-size $LOG_MAX_SIZE, max-file $LOG_MAX_FILE)"
    elif $SYSTEMCTL is-active --quiet docker.service; then
        log "$DAEMON_JSON now limits container logs (json-file, max-size $LOG_MAX_SIZE, max-file $LOG_MAX_FILE); Docker runs already: the limits apply to containers created after its next restart (a reboot)"
    else
        log "$DAEMON_JSON now limits container logs (json-file, max-size $LOG_MAX_SIZE, max-file $LOG_MAX_FILE)"
    fi
}

main() {
    local gb="${1:?usage: memory-and-logs.sh SWAP_GB}"
    if [[ ! $gb =~ ^[0-9]+$ ]]; then
        echo "memory-and-logs: SWAP_GB must be a whole number of GiB (got '$gb')" >&2
        exit 2
    fi
    set_swap "$gb"
    set_log_limits
}

main "$@"
