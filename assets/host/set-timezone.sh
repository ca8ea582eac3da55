#!/usr/bin/env bash
# Optional step (coinpilot:timezone set): the host's time zone, which cron's schedule follows
# (/etc/cron.d/coinpilot-backup's 03:05-04:00 are host time). timedatectl sets /etc/localtime;
# cron reads the zone when it starts, so it is restarted after a change. Idempotent: the zone in
# place already changes nothing.
#
# Runs as root. TIMEDATECTL, SYSTEMCTL and ZONEINFO_DIR are variables so tests can run it.
set -euo pipefail

TIMEDATECTL="${TIMEDATECTL:-timedatectl}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
ZONEINFO_DIR="${ZONEINFO_DIR:-/usr/share/zoneinfo}"

main() {
    local zone="${1:?usage: set-timezone.sh ZONE  (an IANA name, e.g. Asia/Seoul)}" current
    if [[ ! $zone =~ ^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$ || ! -f "$ZONEINFO_DIR/$zone" ]]; then
        echo "unknown time zone '$zone': no $ZONEINFO_DIR/$zone on this host (is tzdata installed?)" >&2
        exit 1
    fi
    current="$($TIMEDATECTL show -p Timezone --value)"
    if [ "$current" = "$zone" ]; then
        echo "time zone already $zone"
        return
    fi
    $TIMEDATECTL set-timezone "$zone"
    # Only if cron runs already; the unit starts with the new zone otherwise.
    $SYSTEMCTL try-restart cron.service
    echo "time zone $current -> $zone; cron restarted, the backup times are now $zone time"
}

main "$@"
