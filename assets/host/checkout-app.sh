#!/usr/bin/env bash
# Step 4: the CoinPilot checkout at a given ref (tag, branch or commit) in APP_DIR, owned by the
# deploy user. Idempotent: when the checkout already sits at that commit with no local edits,
# nothing is touched. Untracked files (the .env) survive a ref change.
#
# Stdin: one line, the HTTPS token for a private repository, or an empty line. The token reaches
# git only through GIT_ASKPASS and an environment variable: never argv (visible in ps), never the
# remote URL, never .git/config.
#
# Runs as root (git itself runs as the deploy user) or directly as the deploy user (tests).
set -euo pipefail

usage="usage: checkout-app.sh REPO_URL REF APP_DIR DEPLOY_USER  (token on stdin)"

main() {
    local repo_url="${1:?$usage}" ref="${2:?$usage}" app_dir="${3:?$usage}" deploy_user="${4:?$usage}"
    local token=""
    IFS= read -r token || true

    if [[ "$ref" == -* || "$ref" =~ [[:space:]] ]]; then
        echo "invalid ref '$ref': a tag, branch or commit, without spaces or a leading '-'" >&2
        exit 1
    fi

    as_deploy_user() {
        if [ "$(id -un)" = "$deploy_user" ]; then "$@"; else runuser -u "$deploy_user" -- "$@"; fi
    }

    install -d -m 755 -o "$deploy_user" -g "$(id -gn "$deploy_user")" "$app_dir"

    ASKPASS="$(mktemp)"
    trap 'rm -f "$ASKPASS"' EXIT
    cat >"$ASKPASS" <<'ASKPASS'
#!/bin/sh
case "$1" in
    Username*) echo x-access-token ;;
    *) printf '%s\n' "$COINPILOT_GIT_TOKEN" ;;
esac
ASKPASS
    chmod 700 "$ASKPASS"
    chown "$deploy_user" "$ASKPASS"
    # runuser keeps the environment (only HOME, SHELL, USER and LOGNAME change).
    export GIT_ASKPASS="$ASKPASS" COINPILOT_GIT_TOKEN="$token" GIT_TERMINAL_PROMPT=0

    if [ ! -d "$app_dir/.git" ]; then
        as_deploy_user git init -q "$app_dir"
        as_deploy_user git -C "$app_dir" remote add origin "$repo_url"
    elif [ "$(as_deploy_user git -C "$app_dir" remote get-url origin)" != "$repo_url" ]; then
        as_deploy_user git -C "$app_dir" remote set-url origin "$repo_url"
    fi

    as_deploy_user git -C "$app_dir" fetch -q --force --tags origin "$ref"
    local want have
    want="$(as_deploy_user git -C "$app_dir" rev-parse 'FETCH_HEAD^{commit}')"
    have="$(as_deploy_user git -C "$app_dir" rev-parse -q --verify 'HEAD^{commit}' || true)"
    if [ "$want" = "$have" ] && as_deploy_user git -C "$app_dir" diff --quiet HEAD; then
        echo "already at $ref ($want)"
        return
    fi
    # --force discards local edits to tracked files: the host runs exactly the ref in the stack config.
    as_deploy_user git -C "$app_dir" checkout -q --force --detach "$want"
    echo "checked out $ref ($want)"
}

main "$@"
