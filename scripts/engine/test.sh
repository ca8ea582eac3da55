#!/usr/bin/env bash
# `npm run test:engine`: builds (or reuses) the pinned Pulumi CLI and language host, then runs the
# real-engine tests (tests/engine) with them on PATH. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "$0")/../.."
COINPILOT_ENGINE_BIN=$(bash scripts/engine/toolchain.sh | tail -n 1)
export COINPILOT_ENGINE_BIN
exec npx jest --config jest.engine.config.js "$@"
