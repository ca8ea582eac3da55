#!/usr/bin/env bash
# Step 2: Docker Engine and the Compose plugin from Docker's apt repository (not the convenience
# script: a pinned, signed source that `apt upgrade` keeps patched), the deploy user in the docker
# group, and a Compose new enough for `pull --ignore-buildable`. Runs as root; idempotent.
set -euo pipefail

readonly MIN_COMPOSE_VERSION="2.15.0"
readonly KEYRING=/etc/apt/keyrings/docker.asc
readonly SOURCE_LIST=/etc/apt/sources.list.d/docker.list
readonly PACKAGES=(docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin)
# Docker's repository for Ubuntu, its signing key at /gpg. A variable so a mirror with the same
# layout can stand in (the end-to-end test's host serves a local one).
readonly DOCKER_APT_URL="${DOCKER_APT_URL:-https://download.docker.com/linux/ubuntu}"

# A fresh host's unattended-upgrades holds the dpkg lock for minutes: wait for it, don't fail.
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q "$@" </dev/null
}

# True when version $1 >= version $2 (dotted numbers; a leading "v" is ignored).
version_at_least() {
    local have="${1#v}" want="${2#v}"
    [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" = "$want" ]
}

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
    done
}

main() {
    local deploy_user="${1:?usage: install-docker.sh DEPLOY_USER}"

    if [ ! -s "$KEYRING" ]; then
        apt_get update
        apt_get install ca-certificates curl
        install -d -m 0755 /etc/apt/keyrings
        curl -fsSL "$DOCKER_APT_URL/gpg" -o "$KEYRING.tmp"
        chmod a+r "$KEYRING.tmp"
        mv -f "$KEYRING.tmp" "$KEYRING"
    fi

    # shellcheck disable=SC1091 # os-release exists on every Ubuntu host
    . /etc/os-release
    local line
    line="deb [arch=$(dpkg --print-architecture) signed-by=$KEYRING] $DOCKER_APT_URL ${UBUNTU_CODENAME:-$VERSION_CODENAME} stable"
    if [ "$(cat "$SOURCE_LIST" 2>/dev/null)" != "$line" ]; then
        printf '%s\n' "$line" >"$SOURCE_LIST"
    fi

    local missing
    missing="$(missing_packages)"
    if [ -n "$missing" ]; then
        apt_get update
        # shellcheck disable=SC2086 # one package name per word
        apt_get install $missing
    else
        echo "docker packages already installed"
    fi

    systemctl enable --now docker.service

    if id -nG "$deploy_user" | tr ' ' '\n' | grep -qx docker; then
        echo "$deploy_user is already in the docker group"
    else
        usermod -aG docker "$deploy_user"
        echo "added $deploy_user to the docker group"
    fi

    local compose_version
    compose_version="$(docker compose version --short)"
    if ! version_at_least "$compose_version" "$MIN_COMPOSE_VERSION"; then
        echo "docker compose $compose_version is older than $MIN_COMPOSE_VERSION, which 'pull --ignore-buildable' needs" >&2
        exit 1
    fi
    echo "docker $(docker version --format '{{.Server.Version}}'), compose $compose_version"
}

# Sourcing (tests) defines the functions without running anything.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
