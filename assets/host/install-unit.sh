#!/usr/bin/env bash
# Step 6: installs the rendered coinpilot-compose.service, enables it, and applies the current
# app, .env and unit: `reload-or-restart` starts the stack on a fresh host and otherwise reloads it
# (ExecReload rebuilds and recreates only changed services while the old containers keep running).
# On failure it prints the unit's journal tail. Runs as root; SYSTEMCTL, JOURNALCTL and UNIT_DIR
# are variables so tests can run it without systemd as PID 1.
set -euo pipefail

SYSTEMCTL="${SYSTEMCTL:-systemctl}"
JOURNALCTL="${JOURNALCTL:-journalctl}"
UNIT_DIR="${UNIT_DIR:-/etc/systemd/system}"

main() {
    local staged="${1:?usage: install-unit.sh STAGED_UNIT_FILE UNIT_NAME}"
    local unit="${2:?usage: install-unit.sh STAGED_UNIT_FILE UNIT_NAME}"
    local target="$UNIT_DIR/$unit"

    if cmp -s "$staged" "$target"; then
        echo "$target unchanged"
    else
        install -m 644 "$staged" "$target"
        $SYSTEMCTL daemon-reload
        echo "$target installed"
    fi
    $SYSTEMCTL enable --quiet "$unit"
    echo "applying $unit (the first build on a fresh host takes a while)"
    if ! $SYSTEMCTL reload-or-restart "$unit"; then
        echo "$unit failed to start; last journal lines:" >&2
        $JOURNALCTL -u "$unit" -n 80 --no-pager >&2 || true
        exit 1
    fi
    echo "$unit: $($SYSTEMCTL is-active "$unit" || true)"
}

main "$@"
