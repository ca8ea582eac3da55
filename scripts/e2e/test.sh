#!/usr/bin/env bash
# `npm run test:e2e`: the pinned Pulumi toolchain (scripts/engine/toolchain.sh) and the cached test host
# (scripts/e2e/host.sh build), then the end-to-end tests (tests/e2e) one file at a time. Needs root
# (network namespaces, systemd-nspawn, a loop device, dockerd). Extra arguments go to jest, e.g.
# `npm run test:e2e -- -t destroy`.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in debootstrap systemd-nspawn dockerd losetup ip nsenter openssl gpg dpkg-scanpackages git ssh scp curl busybox; do
    command -v "$tool" >/dev/null || { echo "test:e2e needs $tool (apt-get install debootstrap systemd-container docker.io busybox-static dpkg-dev gpg openssl; see .ci/run)" >&2; exit 1; }
done
COINPILOT_ENGINE_BIN=$(bash scripts/engine/toolchain.sh | tail -n 1)
export COINPILOT_ENGINE_BIN
bash scripts/e2e/host.sh build >/dev/null

# The tests stop what they start (World.close); if jest itself dies (a timeout, a signal), this does,
# for the runs this invocation started (their directory names it as owner): the servers (their pids),
# the host (machine, engine, loop device, namespace), the engine's plugins still running in the run's
# Pulumi project (they outlive a killed CLI). Runs of other invocations are left alone.
export COINPILOT_E2E_OWNER="$$"
cleanup() {
    local world pid proc project
    for world in "${TMPDIR:-/tmp}"/coinpilot-e2e-*/; do
        [ "$(cat "$world/owner" 2>/dev/null)" = "$COINPILOT_E2E_OWNER" ] || continue
        project="$(cat "$world/project-dir" 2>/dev/null || true)"
        if [ -n "$project" ] && [ -d "$project" ]; then
            for proc in /proc/[0-9]*; do
                if [[ "$(readlink "$proc/cwd" 2>/dev/null)/" == "$project/"* ]]; then kill "${proc#/proc/}" 2>/dev/null || true; fi
            done
            if [ -z "${COINPILOT_E2E_KEEP:-}" ]; then rm -rf "$project"; fi
        fi
        while read -r pid; do
            if grep -qs "scripts/e2e/" "/proc/$pid/cmdline"; then kill "$pid" 2>/dev/null || true; fi
        done <"$world/children.pids" 2>/dev/null || true
        if [ -d "$world/host" ]; then bash scripts/e2e/host.sh teardown "$world/host" || true; fi
        if [ -z "${COINPILOT_E2E_KEEP:-}" ]; then rm -rf "$world"; fi
    done
}
trap cleanup EXIT
# jest in a process group of its own, waited for in the background: a TERM reaches this script at once
# (bash defers traps while a foreground child runs) and stops jest with everything it started.
set -m
node_modules/.bin/jest --config jest.e2e.config.js "$@" &
jest_pid=$!
set +m
trap 'kill -TERM -- "-$jest_pid" 2>/dev/null || true; wait "$jest_pid" 2>/dev/null || true; exit 143' TERM INT
wait "$jest_pid"
