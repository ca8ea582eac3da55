#!/usr/bin/env bash
# The end-to-end test host (tests/e2e): a Debian bookworm root that a `pulumi up` can treat like OCI's
# Ubuntu VM (systemd as PID 1, sshd, an `ubuntu` user with passwordless sudo, apt, cron, iptables with
# an OCI-style rules.v4 ending in REJECT), built once into ~/.cache/coinpilot-e2e and reused, plus the
# stand-in Docker apt repository the install-docker step installs from.
#
#   host.sh build               builds what is missing (root ~3-5 min, repository ~2 min, services
#                               image ~3 min), prints the repository's directory
#   host.sh services-image      the services image's tar (PostgreSQL, Redis, sqlite3)
#   host.sh boot RUN KEY        a fresh copy of the root in RUN/root, booted with systemd-nspawn in a
#                               network namespace of its own, reachable from here over a veth pair
#                               (its address is the last line printed, and RUN/host-addr), with a Docker engine for it and a loop device as its data
#                               volume (RUN/data.img, kept across `recreate`); KEY.pub is authorized
#                               for `ubuntu`, KEY (a throwaway private key) is what the wait uses
#   host.sh recreate RUN        stops the machine and boots a fresh copy of the root (a new VM, same
#                               data volume and engine): what `pulumi destroy` + `up` do to the VM
#   host.sh reboot RUN          stops and boots the same root again
#   host.sh journal RUN         the machine's journal (read from its files: works when SSH does not)
#   host.sh teardown RUN        stops everything boot started and removes RUN's files
#
# Addresses are a free /30 of TEST-NET-2 (198.51.100.0/24, RFC 5737) per run, so runs side by side do
# not collide; traffic never leaves this machine.
set -euo pipefail

CACHE="${COINPILOT_E2E_CACHE:-$HOME/.cache/coinpilot-e2e}"
SUITE=bookworm
MIRROR="${COINPILOT_E2E_MIRROR:-http://deb.debian.org/debian}"
# What the install steps need on top of minbase: what OCI's Ubuntu image has, and sqlite3, which the
# backups step would install from the distribution mirror (the test host has none).
INCLUDE=systemd,systemd-sysv,dbus,openssh-server,iproute2,sudo,cron,iptables,netfilter-persistent,iptables-persistent,ca-certificates,curl,git,python3,e2fsprogs,tzdata,procps,gpg,gpgv,logrotate,gzip,sqlite3
# Bumped whenever what the build makes changes, so a stale cache is rebuilt instead of reused.
LAYOUT=2
REPO_LAYOUT=1
SERVICES_LAYOUT=1

log() { printf 'e2e host: %s\n' "$*" >&2; }

# The OCI Ubuntu image's INPUT chain: established, ICMP, loopback and SSH accepted, then REJECT.
oci_rules() {
    cat <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p udp --sport 123 -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
COMMIT
RULES
}

build_root() {
    local root="$CACHE/root-$LAYOUT" tmp="$CACHE/root-$LAYOUT.partial"
    if [ -x "$root/usr/sbin/sshd" ] && [ -f "$root/.coinpilot-e2e-complete" ]; then
        log "root already built: $root"
        return
    fi
    remove_partial "$tmp"
    log "debootstrap $SUITE into $tmp (a few minutes)"
    DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/debootstrap.log" >&2
        exit 1
    }
    # The deploy user as OCI's image has it: passwordless sudo, no password login.
    chroot "$tmp" useradd --create-home --shell /bin/bash ubuntu
    echo 'ubuntu ALL=(ALL) NOPASSWD:ALL' >"$tmp/etc/sudoers.d/90-cloud-init-users"
    chmod 440 "$tmp/etc/sudoers.d/90-cloud-init-users"
    install -d -m 700 -o "$(chroot "$tmp" id -u ubuntu)" -g "$(chroot "$tmp" id -g ubuntu)" "$tmp/home/ubuntu/.ssh"
    oci_rules >"$tmp/etc/iptables/rules.v4"
    rm -f "$tmp/etc/iptables/rules.v6"
    # cloud-init's part is done by this build (user, key slot, rules): its status is "done".
    cat >"$tmp/usr/local/bin/cloud-init" <<'CI'
#!/bin/sh
# Test host stand-in: this root was prepared at build time, so cloud-init has nothing left to do.
case "$1 $2" in
    "status --wait"|"status ") echo "status: done" ;;
    "status --long") echo "status: done"; echo "detail: test host prepared by scripts/e2e/host.sh" ;;
    *) echo "cloud-init stand-in: $*" >&2; exit 1 ;;
esac
CI
    chmod 755 "$tmp/usr/local/bin/cloud-init"
    echo coinpilot-e2e >"$tmp/etc/hostname"
    # Host keys are made per boot copy (tests/e2e/host.ts), not baked into the cache.
    rm -f "$tmp"/etc/ssh/ssh_host_*
    # No console login to wait for; the machine is reached over SSH only.
    chroot "$tmp" systemctl mask getty@tty1.service console-getty.service systemd-timesyncd.service >/dev/null 2>&1 || true
    chroot "$tmp" apt-get clean
    touch "$tmp/.coinpilot-e2e-complete"
    mv "$tmp" "$root"
    log "root built: $root ($(du -sh "$root" | cut -f1))"
}

# The packages Docker's apt repository would install, made from what runs here: Debian's docker.io
# client and trixie's Compose v2 plugin (bookworm has only Compose 1.29). The engine is not in them:
# containers cannot run inside the nspawn host (read-only cgroup v1 controllers), so docker.service
# in the host only waits for the socket of the engine the test runs outside and binds in.
build_repo() {
    local repo="$CACHE/docker-repo-$REPO_LAYOUT" tmp="$CACHE/docker-repo-$REPO_LAYOUT.partial"
    if [ -f "$repo/.complete" ]; then
        log "docker repository packages already built: $repo"
        return
    fi
    rm -rf "$tmp"
    mkdir -p "$tmp/debs" "$tmp/apt/lists/partial" "$tmp/apt/cache/archives/partial"
    # trixie's docker-compose package, fetched with apt from a separate, private source list.
    printf 'deb %s trixie main\n' "$MIRROR" >"$tmp/apt/sources.list"
    local apt_opts=(-o Dir::Etc::SourceList="$tmp/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
        -o Dir::State::Lists="$tmp/apt/lists" -o Dir::Cache="$tmp/apt/cache" -o Debug::NoLocking=1)
    log "fetching trixie's docker-compose (Compose v2) with apt"
    apt-get -q "${apt_opts[@]}" update >"$tmp/apt-update.log" 2>&1 || { tail -n 20 "$tmp/apt-update.log" >&2; exit 1; }
    (cd "$tmp" && apt-get -q "${apt_opts[@]}" download docker-compose >"$tmp/apt-download.log" 2>&1) || { tail -n 20 "$tmp/apt-download.log" >&2; exit 1; }
    dpkg-deb -x "$tmp"/docker-compose_*.deb "$tmp/compose"
    local plugin
    plugin="$(find "$tmp/compose" -path '*cli-plugins/docker-compose' -type f | head -n 1)"
    [ -n "$plugin" ] || { log "no cli-plugins/docker-compose in trixie's package"; exit 1; }

    local docker_client=/usr/bin/docker
    [ -x "$docker_client" ] || { log "$docker_client missing: apt-get install docker.io"; exit 1; }

    # docker-ce-cli: the client.
    make_deb "$tmp" docker-ce-cli "Docker CLI (e2e stand-in: Debian's docker.io client)" ""
    install -D -m 755 "$docker_client" "$tmp/pkg/docker-ce-cli/usr/bin/docker"
    # docker-compose-plugin: Compose v2 as a CLI plugin, where Docker's package puts it.
    make_deb "$tmp" docker-compose-plugin "Compose v2 CLI plugin (e2e stand-in: trixie's docker-compose)" ""
    install -D -m 755 "$plugin" "$tmp/pkg/docker-compose-plugin/usr/libexec/docker/cli-plugins/docker-compose"
    # docker-buildx-plugin: nothing to ship (Compose builds through the engine's API).
    make_deb "$tmp" docker-buildx-plugin "Buildx (e2e stand-in: empty)" ""
    # containerd.io: runs outside with the engine; an empty package, so apt's path is the real one.
    make_deb "$tmp" containerd.io "containerd (e2e stand-in: the engine runs outside the test host)" ""
    # docker-ce: docker.service waits for the engine's bound socket, and the docker group.
    make_deb "$tmp" docker-ce "Docker engine (e2e stand-in: the test's engine, socket bound in)" "docker-ce-cli, containerd.io"
    install -D -m 644 /dev/stdin "$tmp/pkg/docker-ce/lib/systemd/system/docker.service" <<'UNIT'
[Unit]
Description=Docker engine (e2e stand-in: the engine outside this host, its socket bound at /run/docker.sock)
After=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for i in $(seq 1 60); do /usr/bin/docker version >/dev/null 2>&1 && exit 0; sleep 1; done; echo "no engine answers on /run/docker.sock" >&2; exit 1'

[Install]
WantedBy=multi-user.target
UNIT
    cat >"$tmp/pkg/docker-ce/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group docker >/dev/null || groupadd --system docker
fi
POSTINST
    chmod 755 "$tmp/pkg/docker-ce/DEBIAN/postinst"

    local name www="$tmp/www"
    mkdir -p "$www/pool/stable" "$www/dists/$SUITE/stable/binary-amd64"
    for name in docker-ce-cli docker-compose-plugin docker-buildx-plugin containerd.io docker-ce; do
        dpkg-deb --root-owner-group --build "$tmp/pkg/$name" "$www/pool/stable/${name}_99.0-e2e_amd64.deb" >/dev/null
    done
    rm -rf "$tmp/pkg" "$tmp/compose" "$tmp"/docker-compose_*.deb "$tmp/apt" "$tmp/debs"
    sign_repo "$tmp" "$www"
    touch "$tmp/.complete"
    mv "$tmp" "$repo"
    log "docker repository built: $repo/www"
}

# Docker's repository layout (dists/<codename>/stable, its key at /gpg), signed with a throwaway key
# made here, so apt checks InRelease against the key the install step fetches, as it does for Docker's.
sign_repo() {
    local base="$1" www="$2" dist="$2/dists/$SUITE" gnupg="$1/gnupg"
    (cd "$www" && dpkg-scanpackages --multiversion pool/stable /dev/null 2>/dev/null) >"$dist/stable/binary-amd64/Packages"
    gzip -9nk "$dist/stable/binary-amd64/Packages"
    {
        echo "Origin: coinpilot-e2e"
        echo "Label: Docker CE (e2e stand-in)"
        echo "Suite: $SUITE"
        echo "Codename: $SUITE"
        echo "Architectures: amd64"
        echo "Components: stable"
        echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
        echo "SHA256:"
        local f
        for f in stable/binary-amd64/Packages stable/binary-amd64/Packages.gz; do
            printf ' %s %s %s\n' "$(sha256sum "$dist/$f" | cut -d' ' -f1)" "$(stat -c %s "$dist/$f")" "$f"
        done
    } >"$dist/Release"
    install -d -m 700 "$gnupg"
    gpg --homedir "$gnupg" --batch --quiet --passphrase '' --quick-gen-key "coinpilot e2e docker repository <e2e@example.invalid>" ed25519 sign never
    gpg --homedir "$gnupg" --batch --quiet --yes --clearsign -o "$dist/InRelease" "$dist/Release"
    gpg --homedir "$gnupg" --batch --quiet --armor --export >"$www/gpg"
    gpgconf --homedir "$gnupg" --kill all 2>/dev/null || true
    rm -rf "$gnupg"
}

# A package skeleton in $1/pkg/$2 with its control file.
make_deb() {
    local base="$1" name="$2" description="$3" depends="$4"
    mkdir -p "$base/pkg/$name/DEBIAN"
    {
        echo "Package: $name"
        echo "Version: 99.0-e2e"
        echo "Architecture: amd64"
        echo "Maintainer: coinpilot-infra e2e <e2e@example.invalid>"
        [ -z "$depends" ] || echo "Depends: $depends"
        echo "Description: $description"
    } >"$base/pkg/$name/DEBIAN/control"
}

# Removes what an interrupted build left, unmounting first what debootstrap mounted in it (/proc, /sys).
remove_partial() {
    local mount
    awk -v dir="$1/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mount; do umount -l "$mount" || true; done
    rm -rf "$1"
}

# The image the stand-in app's data services run (tests/e2e/world.ts imports it as
# coinpilot-e2e/services:1): a bookworm minbase with Debian's PostgreSQL 15, Redis 7 and sqlite3, so
# the backup scripts meet the real servers (pg_dump, pg_restore, psql, redis-cli, redis-check-rdb) in
# containers named as in production. Built once into CACHE/services-SERVICES_LAYOUT.tar.
build_services_image() {
    local image="$CACHE/services-$SERVICES_LAYOUT.tar" tmp="$CACHE/services-$SERVICES_LAYOUT.partial"
    if [ -f "$image" ]; then
        log "services image already built: $image"
        return
    fi
    remove_partial "$tmp"
    rm -f "$image.partial"
    log "debootstrap $SUITE with postgresql-15, redis-server and sqlite3 into $tmp (a few minutes)"
    DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase "$SUITE" "$tmp" "$MIRROR" >"$CACHE/services-debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/services-debootstrap.log" >&2
        exit 1
    }
    # An image starts no services while packages install (what Docker's own images do).
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    # No cluster made at install: the container's entrypoint makes its own on its volume.
    mkdir -p "$tmp/etc/postgresql-common"
    echo 'create_main_cluster = false' >"$tmp/etc/postgresql-common/createcluster.conf"
    chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 redis-server sqlite3 >>"$CACHE/services-debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/services-debootstrap.log" >&2
        exit 1
    }
    chroot "$tmp" apt-get clean
    # Smaller to import on every run: no docs or locales, and no JIT (LLVM is 130 MB; PostgreSQL runs
    # without its JIT provider).
    rm -rf "$tmp/var/lib/apt/lists"/* "$tmp/usr/share/doc" "$tmp/usr/share/man" "$tmp/usr/share/locale" "$tmp/usr/share/i18n" \
        "$tmp"/usr/lib/x86_64-linux-gnu/libLLVM-* "$tmp"/usr/lib/x86_64-linux-gnu/libz3.so.* "$tmp"/usr/lib/postgresql/15/lib/llvmjit*
    # The official postgres image's entrypoint in small: a cluster on the volume on first start
    # (POSTGRES_USER with POSTGRES_PASSWORD, the socket trusted inside the container), POSTGRES_DB,
    # then the server in the foreground.
    cat >"$tmp/usr/local/bin/e2e-postgres" <<'PG'
#!/bin/sh
set -eu
PGDATA=/var/lib/postgresql/data
BIN=/usr/lib/postgresql/15/bin
install -d -o postgres -g postgres -m 2775 /run/postgresql
install -d -o postgres -g postgres -m 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile
    chown postgres /tmp/pwfile
    runuser -u postgres -- "$BIN/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f /tmp/pwfile
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
    runuser -u postgres -- "$BIN/psql" -X -q -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
    runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDATA" -w stop >/dev/null
fi
exec runuser -u postgres -- "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*'
PG
    chmod 755 "$tmp/usr/local/bin/e2e-postgres"
    tar -C "$tmp" -cf "$image.partial" .
    rm -rf "$tmp"
    mv "$image.partial" "$image"
    log "services image built: $image ($(du -sh "$image" | cut -f1))"
}

# --- one test run: RUN holds the state (pids, names) as files, so teardown works from any process.


state() { cat "$RUN/$1" 2>/dev/null || true; }

wait_gone() {
    local pid="$1" seconds="$2" i
    for ((i = 0; i < seconds * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    return 1
}

# Stops a process started by boot (pid in RUN/$1): SIGTERM, then SIGKILL after $2 seconds.
stop_pid() {
    local pid
    pid="$(state "$1")"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" "$2" || { log "$1 ($pid) did not stop in $2 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
    fi
    rm -f "$RUN/$1"
}

# The first /30 of 198.51.100.0/24 no interface here uses: RUN/outer-addr (this machine's end of the
# pair) and RUN/host-addr (the host's).
pick_addresses() {
    local slot used
    used="$(ip -o -4 addr show | awk '{ print $4 }')"
    for ((slot = 0; slot < 64; slot++)); do
        if ! grep -qx "198.51.100.$((slot * 4 + 1))/30" <<<"$used"; then
            echo "198.51.100.$((slot * 4 + 1))" >"$RUN/outer-addr"
            echo "198.51.100.$((slot * 4 + 2))" >"$RUN/host-addr"
            return
        fi
    done
    log "no free /30 left in 198.51.100.0/24"
    return 1
}

network_up() {
    local ns="$1" id="$2" outer host
    pick_addresses
    outer="$(state outer-addr)"
    host="$(state host-addr)"
    ip netns add "$ns"
    ip link add "cpe2e${id}o" type veth peer name "cpe2e${id}h" netns "$ns"
    ip addr add "$outer/30" dev "cpe2e${id}o"
    ip link set "cpe2e${id}o" up
    ip -n "$ns" addr add "$host/30" dev "cpe2e${id}h"
    ip -n "$ns" link set "cpe2e${id}h" up
    ip -n "$ns" link set lo up
    # No default route: the host reaches this machine's end of the pair and nothing else (a registry
    # pull fails at once instead of leaving the machine).
}

# The engine the host's Docker client talks to: dockerd on this machine, inside the host's network
# namespace so the ports the stack publishes are the host's ports (its firewall, its 127.0.0.1).
docker_up() {
    local ns="$1"
    mkdir -p "$RUN/docker-sock" "$RUN/docker-data" "$RUN/docker-exec"
    # nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup mounts dockerd needs.
    nsenter --net="/run/netns/$ns" setsid dockerd --iptables=false --ip-masq=false --data-root "$RUN/docker-data" --exec-root "$RUN/docker-exec" \
        --pidfile "$RUN/docker-exec/dockerd.pid" -H "unix://$RUN/docker-sock/docker.sock" >"$RUN/dockerd.log" 2>&1 </dev/null &
    echo $! >"$RUN/dockerd.pid"
    wait_until 150 0.2 dockerd.pid dockerd.log 20 "dockerd did not answer on $RUN/docker-sock/docker.sock" docker_answers
}

docker_answers() {
    DOCKER_HOST="unix://$RUN/docker-sock/docker.sock" docker version >/dev/null 2>&1
}

# A fresh copy of the cached root with this run's host keys and the test's public key.
fresh_root() {
    local pubkey="$1"
    rm -rf "$RUN/root"
    cp -a --reflink=auto "$CACHE/root-$LAYOUT" "$RUN/root"
    ssh-keygen -q -A -f "$RUN/root"
    install -m 600 -o "$(stat -c %u "$RUN/root/home/ubuntu")" -g "$(stat -c %g "$RUN/root/home/ubuntu")" "$pubkey" "$RUN/root/home/ubuntu/.ssh/authorized_keys"
    # The engine's socket is bound in as a directory (a file bind would break if dockerd re-made it).
    printf 'L /run/docker.sock - - - - /run/coinpilot-engine/docker.sock\n' >"$RUN/root/etc/tmpfiles.d/coinpilot-e2e-docker.conf"
    # No distribution mirror is reachable from the host: what it needs is in the root already, and
    # apt's only source is the Docker repository the install step adds.
    printf '# e2e test host: no distribution mirror (scripts/e2e/host.sh)\n' >"$RUN/root/etc/apt/sources.list"
    # sudo resolves its own host name.
    printf '127.0.1.1 coinpilot-e2e\n' >>"$RUN/root/etc/hosts"
    # What a VM's boot does and a container's does not: systemd-fstab-generator skips fstab's device
    # entries in a container, so the data volume's UUID= line (mount-data-volume.sh) would never be
    # mounted at boot. This generator makes the same mount unit for each such line (nofail: wanted,
    # not required; _netdev: with the remote mounts, after the network), so a reboot mounts the volume
    # and docker.service's RequiresMountsFor= finds its unit, as on OCI.
    install -D -m 755 /dev/stdin "$RUN/root/etc/systemd/system-generators/coinpilot-e2e-fstab-devices" <<'GEN'
#!/bin/sh
# e2e test host (scripts/e2e/host.sh): fstab's UUID= entries as mount units, as systemd-fstab-generator makes them on a VM.
dir="$1"
grep -E '^UUID=' /etc/fstab | while read -r what where type options _; do
    unit="$(systemd-escape -p --suffix=mount "$where")"
    printf '[Unit]\nSourcePath=/etc/fstab\nAfter=network-online.target\nWants=network-online.target\nBefore=remote-fs.target\n\n[Mount]\nWhat=%s\nWhere=%s\nType=%s\nOptions=%s\n' \
        "$what" "$where" "$type" "$options" >"$dir/$unit"
    mkdir -p "$dir/remote-fs.target.wants"
    ln -sf "../$unit" "$dir/remote-fs.target.wants/$unit"
done
GEN
}

machine_up() {
    local ns loop
    ns="$(state netns)"
    loop="$(state loop)"
    # --keep-unit/--register=no: PID 1 here is not systemd. The engine's volumes appear in the host
    # where `docker inspect` says they are, as with an engine inside the host (n8n_backup.sh tars one). The data volume appears where OCI's
    # udev rules put it, and under its own name too, so mount's UUID= lookup finds it.
    setsid systemd-nspawn -D "$RUN/root" --boot --register=no --keep-unit --quiet --console=read-only \
        --network-namespace-path="/run/netns/$ns" --capability=CAP_NET_ADMIN,CAP_SYS_ADMIN \
        --bind="$RUN/docker-sock:/run/coinpilot-engine" --bind="$RUN/docker-data/volumes:$RUN/docker-data/volumes" \
        --bind="$loop:/dev/oracleoci/oraclevdb" --bind="$loop:$loop" \
        --machine="$(basename "$RUN")" >"$RUN/console.log" 2>&1 </dev/null &
    echo $! >"$RUN/nspawn.pid"
}

machine_down() {
    # nspawn passes SIGTERM to the machine's systemd as a shutdown request (--kill-signal default).
    stop_pid nspawn.pid 60
}

wait_ssh() {
    local key="$1" host
    host="$(state host-addr)"
    wait_until 120 0.5 nspawn.pid console.log 40 "the machine did not answer SSH on $host" \
        ssh -q -i "$key" -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "ubuntu@$host" true
}

# wait_until TRIES DELAY PIDFILE LOGFILE LINES MESSAGE COMMAND...: runs COMMAND (output discarded) until it
# succeeds, at most TRIES times DELAY seconds apart, while the process in the run's PIDFILE lives; else
# shows the last LINES of the run's LOGFILE and fails with MESSAGE.
wait_until() {
    local tries="$1" delay="$2" pidfile="$3" logfile="$4" lines="$5" message="$6" i
    shift 6
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$(state "$pidfile")" 2>/dev/null || break
        sleep "$delay"
    done
    tail -n "$lines" "$RUN/$logfile" >&2
    log "$message"
    return 1
}

boot() {
    local key="${2:?usage: host.sh boot RUN KEY}" id
    mkdir -p "$RUN"
    [ -d "$CACHE/root-$LAYOUT" ] || { log "no root in $CACHE: run host.sh build first"; exit 1; }
    # Short, unique names: interface names are at most 15 characters.
    id="$(printf '%04d' $((RANDOM % 10000)))"
    echo "cpe2e$id" >"$RUN/netns"
    echo "$id" >"$RUN/id"
    network_up "cpe2e$id" "$id"
    docker_up "cpe2e$id"
    truncate -s 2G "$RUN/data.img"
    losetup --find --show "$RUN/data.img" >"$RUN/loop"
    echo "$key" >"$RUN/ssh-key-path"
    fresh_root "$key.pub"
    machine_up
    wait_ssh "$key"
    state host-addr
}

teardown() {
    machine_down
    stop_pid dockerd.pid 30
    local loop ns
    loop="$(state loop)"
    if [ -n "$loop" ]; then losetup -d "$loop" 2>/dev/null || true; fi
    ns="$(state netns)"
    if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
    # The outer end of the veth pair goes with the namespace's end; docker's files may be busy mounts.
    umount -R "$RUN/docker-exec" 2>/dev/null || true
    rm -rf "$RUN"
}

main() {
    case "${1:-}" in
        build)
            mkdir -p "$CACHE"
            # One build at a time (runs side by side both call it): a second one waits, then finds it done.
            exec 9>"$CACHE/.build.lock"
            flock 9
            build_root
            build_repo
            build_services_image
            # The last line: the repository's document root (tests/e2e serves it).
            echo "$CACHE/docker-repo-$REPO_LAYOUT/www"
            ;;
        services-image)
            # The services image's tar (built by `build`).
            echo "$CACHE/services-$SERVICES_LAYOUT.tar"
            ;;
        boot | recreate | reboot | journal | teardown)
            RUN="${2:?usage: host.sh $1 RUN ...}"
            case "$1" in
                boot) boot "$2" "${3:-}" ;;
                recreate) machine_down && fresh_root "$(state ssh-key-path).pub" && machine_up && wait_ssh "$(state ssh-key-path)" ;;
                reboot) machine_down && machine_up && wait_ssh "$(state ssh-key-path)" ;;
                journal) journalctl -D "$RUN/root/var/log/journal" --no-pager -o short-monotonic 2>/dev/null || cat "$RUN/console.log" ;;
                teardown) teardown ;;
            esac
            ;;
        *)
            echo "usage: host.sh build | boot RUN PUBKEY | recreate RUN | reboot RUN | journal RUN | teardown RUN" >&2
            exit 2
            ;;
    esac
}

main "$@"
