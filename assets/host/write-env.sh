#!/usr/bin/env bash
# Step 5: writes the Compose .env from stdin (the content never appears in argv or in logs),
# atomically: a temp file in the same directory, mode 600, owned by the deploy user, then rename.
# Idempotent: identical content leaves the file alone (mode and owner are still enforced).
# Runs as root.
set -euo pipefail

main() {
    local target="${1:?usage: write-env.sh ENV_FILE DEPLOY_USER  (content on stdin)}"
    local deploy_user="${2:?usage: write-env.sh ENV_FILE DEPLOY_USER  (content on stdin)}"
    local owner dir
    owner="$deploy_user:$(id -gn "$deploy_user")"
    dir="$(dirname "$target")"
    if [ ! -d "$dir" ]; then
        echo "$dir does not exist: the app checkout (previous step) creates it" >&2
        exit 1
    fi

    TMP_ENV="$(mktemp "$dir/.env.XXXXXX")"
    trap 'rm -f "$TMP_ENV"' EXIT
    chmod 600 "$TMP_ENV"
    cat >"$TMP_ENV"
    if [ ! -s "$TMP_ENV" ]; then
        echo "no content on stdin: refusing to replace $target with an empty file" >&2
        exit 1
    fi

    if [ -f "$target" ] && cmp -s "$TMP_ENV" "$target"; then
        chmod 600 "$target"
        chown "$owner" "$target"
        echo "$target unchanged"
        return
    fi
    chown "$owner" "$TMP_ENV"
    mv -f "$TMP_ENV" "$target"
    echo "$target written"
}

main "$@"
