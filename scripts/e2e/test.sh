#!/usr/bin/env bash
# `npm run test:e2e`: the pinned Pulumi toolchain (scripts/engine/toolchain.sh) and the cached test host
# (scripts/e2e/host.sh build), then the end-to-end tests (tests/e2e) one file at a time. Needs root
# (network namespaces, systemd-nspawn, a loop device, dockerd). Extra arguments go to jest, e.g.
# `npm run test:e2e -- -t "pulumi up again"`.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in debootstrap systemd-nspawn dockerd losetup ip nsenter openssl git ssh scp curl; do
    command -v "$tool" >/dev/null || { echo "test:e2e needs $tool (apt-get install debootstrap systemd-container docker.io ...; see .ci/run)" >&2; exit 1; }
done
COINPILOT_ENGINE_BIN=$(bash scripts/engine/toolchain.sh | tail -n 1)
export COINPILOT_ENGINE_BIN
bash scripts/e2e/host.sh build >/dev/null
exec npx jest --config jest.e2e.config.js "$@"
