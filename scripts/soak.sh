#!/usr/bin/env bash
# `bash scripts/soak.sh [RUNS] [TIER...]`: runs the test tiers RUNS times in a row (default 10; tiers
# `unit` = npm test, `assets` = npm run test:assets; default both) with one core kept busy by stress-ng,
# as on a shared 2-core machine, and prints each run's result, wall and CPU (user+sys) time and the
# load average, then the pass counts. Exit 0 only when every run passed. Not part of npm test: it
# checks that no test depends on an idle machine. Logs of failed runs stay in the printed directory.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-10}
shift || true
TIERS=("$@")
[ ${#TIERS[@]} -gt 0 ] || TIERS=(unit assets)

command -v stress-ng >/dev/null || { echo "soak: needs stress-ng (apt-get install stress-ng)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "soak: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

LOGS=$(mktemp -d /tmp/coinpilot-soak-XXXXXX)
stress-ng --cpu 1 --quiet &
LOAD_PID=$!
trap 'kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null' EXIT
echo "soak: $RUNS runs of ${TIERS[*]}, one core busy (stress-ng pid $LOAD_PID); logs in $LOGS"

declare -A passed=()
for tier in "${TIERS[@]}"; do passed[$tier]=0; done
for run in $(seq 1 "$RUNS"); do
    for tier in "${TIERS[@]}"; do
        case "$tier" in
            unit) command=(npm test) ;;
            assets) command=(npm run test:assets) ;;
            *) echo "soak: unknown tier $tier (unit, assets)" >&2; exit 2 ;;
        esac
        log="$LOGS/$tier-$run.log"
        load=$(cut -d' ' -f1 /proc/loadavg)
        /usr/bin/time -f "%e %U %S" -o "$LOGS/time" env CI=true "${command[@]}" >"$log" 2>&1
        status=$?
        read -r wall user sys <"$LOGS/time" || true
        cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.1f", u + s }')
        summary=$(grep -E '^jest: ' "$log" | tail -n 1)
        if [ "$status" -eq 0 ]; then
            passed[$tier]=$((passed[$tier] + 1))
            rm -f "$log"
            result=pass
        else
            result="FAIL ($(grep -cE '^\s+● ' "$log") failures, see $log)"
        fi
        printf 'run %2d %-6s %-4s wall %6.1f s  cpu %6.1f s  load %5s  %s\n' "$run" "$tier" "$result" "${wall:-0}" "$cpu" "$load" "$summary"
    done
done

status=0
for tier in "${TIERS[@]}"; do
    echo "soak: $tier passed ${passed[$tier]}/$RUNS"
    [ "${passed[$tier]}" -eq "$RUNS" ] || status=1
done
exit "$status"
