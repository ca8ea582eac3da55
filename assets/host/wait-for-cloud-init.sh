#!/usr/bin/env bash
# Step 1: wait until cloud-init has finished (users, apt sources, the OCI firewall rules) before
# anything else touches the machine, then create the private staging directory that later steps
# copy their scripts into. Runs as the SSH user, script on stdin: everything lives in main() so
# bash has read the whole script before any command runs.
set -euo pipefail

main() {
    local staging_dir="${1:?usage: wait-for-cloud-init.sh STAGING_DIR}"
    local cloud_init="${CLOUD_INIT:-cloud-init}"
    local rc=0
    "$cloud_init" status --wait >/dev/null </dev/null || rc=$?
    case "$rc" in
        0) echo "cloud-init finished" ;;
        # 2 = finished with recoverable errors (e.g. a deprecated key): the machine is usable.
        2)
            echo "cloud-init finished with recoverable errors; continuing"
            "$cloud_init" status --long </dev/null >&2 || true
            ;;
        *)
            echo "cloud-init failed (exit $rc); see /var/log/cloud-init-output.log on the host" >&2
            "$cloud_init" status --long </dev/null >&2 || true
            exit 1
            ;;
    esac
    install -d -m 700 "$staging_dir"
}

main "$@"
