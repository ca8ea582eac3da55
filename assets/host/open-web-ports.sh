#!/usr/bin/env bash
# Step 3: open 80/443 in the host firewall. OCI's Ubuntu images end the INPUT chain with
# "-j REJECT" (live and in /etc/iptables/rules.v4), which blocks those ports even when the
# security list allows them. For each port, an ACCEPT goes right above that REJECT, live and in
# rules.v4; a copy misplaced below the REJECT (the usual `iptables -A` mistake) is moved. No ufw,
# no flush, idempotent: a second run changes nothing.
#
# Persisting edits rules.v4 itself instead of running `netfilter-persistent save`: once Docker is
# installed, a save would also write Docker's runtime chains (per-container NAT rules) into the
# file, and restoring those at boot, before dockerd starts, leaves stale and duplicate rules.
#
# Runs as root. Commands and paths are variables so tests run it against a fixture in a scratch
# network namespace: IPTABLES and IPTABLES_RESTORE may hold a command prefix (word-split on purpose).
set -euo pipefail

IPTABLES="${IPTABLES:-iptables}"
IPTABLES_RESTORE="${IPTABLES_RESTORE:-iptables-restore}"
RULES_FILE="${RULES_FILE:-/etc/iptables/rules.v4}"
PORTS="${PORTS:-80 443}"

# In iptables-save form, exactly as `iptables -S` prints it, so live and file compare as text.
accept_rule() {
    echo "-A INPUT -p tcp -m state --state NEW -m tcp --dport $1 -j ACCEPT"
}

wanted_rules() {
    local port
    for port in $PORTS; do accept_rule "$port"; done
}

# 1-based position of the first line matching $1 among the remaining arguments; 0 when absent.
position_of() {
    local pattern="$1" i=0 line
    shift
    for line in "$@"; do
        i=$((i + 1))
        if [[ "$line" =~ $pattern ]]; then
            echo "$i"
            return
        fi
    done
    echo 0
}

apply_live() {
    local rule spec reject_at rule_at changed=0
    local -a chain
    while IFS= read -r rule; do
        mapfile -t chain < <($IPTABLES -S INPUT | grep '^-A INPUT ')
        reject_at="$(position_of ' -j REJECT' "${chain[@]}")"
        rule_at="$(position_of "^${rule//./\\.}\$" "${chain[@]}")"
        if [ "$rule_at" -gt 0 ] && { [ "$reject_at" -eq 0 ] || [ "$rule_at" -lt "$reject_at" ]; }; then
            continue
        fi
        read -ra spec <<<"${rule#-A INPUT }"
        if [ "$rule_at" -gt 0 ]; then
            $IPTABLES -D INPUT "${spec[@]}"
        fi
        if [ "$reject_at" -gt 0 ]; then
            $IPTABLES -I INPUT "$reject_at" "${spec[@]}"
        else
            $IPTABLES -A INPUT "${spec[@]}"
        fi
        echo "live: $rule"
        changed=1
    done < <(wanted_rules)
    [ "$changed" = 1 ] || echo "live rules already accept: $PORTS"
}

persist() {
    if [ ! -f "$RULES_FILE" ]; then
        echo "no $RULES_FILE: nothing to persist (this image does not restore iptables rules at boot)"
        return
    fi
    grep -qx '\*filter' "$RULES_FILE" || {
        echo "$RULES_FILE has no *filter table; refusing to guess where the rules go" >&2
        exit 1
    }
    TMP_RULES="$(mktemp "$RULES_FILE.XXXXXX")"
    trap 'rm -f "$TMP_RULES"' EXIT
    local tmp="$TMP_RULES"
    # In the filter table: drop wanted rules that sit below the first INPUT REJECT, and emit every
    # wanted rule not already above it right before that REJECT (or before COMMIT if there is none).
    awk -v wanted="$(wanted_rules)" '
        function emit(   i) { for (i = 1; i <= n; i++) if (!(want[i] in above)) print want[i]; placed = 1 }
        BEGIN { n = split(wanted, want, "\n"); for (i = 1; i <= n; i++) is_wanted[want[i]] = 1 }
        /^\*/ { table = substr($0, 2) }
        table == "filter" && !placed && (/^-A INPUT (.* )?-j REJECT/ || /^COMMIT/) { emit() }
        table == "filter" && ($0 in is_wanted) { if (placed) next; above[$0] = 1 }
        /^COMMIT/ { table = "" }
        { print }
    ' "$RULES_FILE" >"$tmp"
    if cmp -s "$tmp" "$RULES_FILE"; then
        echo "$RULES_FILE already accepts: $PORTS"
        return
    fi
    $IPTABLES_RESTORE --test <"$tmp" || {
        echo "the edited rules do not load (iptables-restore --test); $RULES_FILE left unchanged" >&2
        exit 1
    }
    chmod --reference="$RULES_FILE" "$tmp"
    chown --reference="$RULES_FILE" "$tmp"
    mv -f "$tmp" "$RULES_FILE"
    echo "persisted in $RULES_FILE"
}

main() {
    apply_live
    persist
}

main "$@"
