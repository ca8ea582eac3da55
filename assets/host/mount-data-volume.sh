#!/usr/bin/env bash
# Mounts CoinPilot's data block volume at /srv/coinpilot-data and points Docker's data root at its
# docker/ directory (/etc/docker/daemon.json, before Docker first starts), so named volumes and the
# backups (backups/, see assets/backup/lib.sh) live on a disk that survives a recreate of the VM.
# Safe to run on every boot and every deploy:
# - formats ONLY when the device carries no filesystem and no partition table (blkid probe says so);
# - any doubt (probe error, unknown signature) stops the script before anything is written;
# - mounts by UUID through fstab with nofail,_netdev (OCI's advice for block volumes), one line, kept
#   up to date; and makes docker.service wait for the mount, so Docker never starts on an empty root;
# - never moves Docker's root away from data it already holds (that would start the stack empty).
# Everything that touches the system comes from variables, so tests run it on a loop device.
set -euo pipefail

DEVICE="${DATA_DEVICE:-/dev/oracleoci/oraclevdb}"
MOUNT_POINT="${DATA_MOUNT_POINT:-/srv/coinpilot-data}"
DOCKER_ROOT="${DOCKER_DATA_ROOT:-/srv/coinpilot-data/docker}"
DAEMON_JSON="${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"
# Where Docker keeps its data without daemon.json: non-empty means Docker has already run there.
DEFAULT_DOCKER_ROOT="${DOCKER_DEFAULT_ROOT:-/var/lib/docker}"
FSTAB="${FSTAB:-/etc/fstab}"
SYSTEMD_DIR="${SYSTEMD_DIR:-/etc/systemd/system}"
FS_TYPE="${DATA_FS_TYPE:-ext4}"
FS_LABEL="${DATA_FS_LABEL:-coinpilot-data}"
# The attachment can complete after cloud-init starts; wait for the device instead of failing.
WAIT_SECONDS="${DATA_DEVICE_WAIT_SECONDS:-300}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"

log() { printf 'mount-data-volume: %s\n' "$*"; }
die() { printf 'mount-data-volume: ERROR: %s\n' "$*" >&2; exit 1; }

waited=0
until [ -e "$DEVICE" ]; do
    [ "$waited" -ge "$WAIT_SECONDS" ] && die "$DEVICE did not appear within ${WAIT_SECONDS}s; is the volume attached? (oci compute volume-attachment list)"
    sleep 2
    waited=$((waited + 2))
done

# Low-level probe (-p) reads the device itself, not blkid's cache. Exit 2 means "no signature at all".
probe_rc=0
probe="$(blkid -p -o export "$DEVICE")" || probe_rc=$?
if [ "$probe_rc" -eq 2 ]; then
    log "$DEVICE has no filesystem: creating $FS_TYPE (label $FS_LABEL)"
    "mkfs.$FS_TYPE" -q -L "$FS_LABEL" "$DEVICE"
    probe="$(blkid -p -o export "$DEVICE")" || die "blkid cannot read $DEVICE right after mkfs"
elif [ "$probe_rc" -ne 0 ]; then
    die "blkid -p $DEVICE failed with exit code $probe_rc; refusing to touch the volume"
fi

field() { printf '%s\n' "$probe" | sed -n "s/^$1=//p" | head -n 1; }
uuid="$(field UUID)"
fs_type="$(field TYPE)"
if [ -z "$fs_type" ]; then
    pt="$(field PTTYPE)"
    die "$DEVICE has ${pt:+a $pt partition table but }no filesystem blkid recognises; refusing to format it (check it by hand)"
fi
[ -n "$uuid" ] || die "$DEVICE has a $fs_type filesystem without a UUID; cannot write a stable fstab entry"

# Checked before fstab changes: mounted elsewhere means a host set up with another layout, whose
# Docker is running on this volume right now.
elsewhere="$(findmnt -n -o TARGET --source "UUID=$uuid" | grep -vxF "$MOUNT_POINT" || true)"
if [ -n "$elsewhere" ]; then
    die "UUID=$uuid is mounted at $elsewhere, not $MOUNT_POINT; move it by hand (docs/disaster-recovery.md, 'Moving the data volume to $MOUNT_POINT')"
fi

entry="UUID=$uuid $MOUNT_POINT $fs_type defaults,nofail,_netdev 0 2"
# Keep every line except an older entry for this mount point or this filesystem; then add ours once.
tmp="$(mktemp "$FSTAB.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
if [ -f "$FSTAB" ]; then
    awk -v mp="$MOUNT_POINT" -v id="UUID=$uuid" '/^[[:space:]]*#/ || NF < 2 || ($2 != mp && $1 != id)' "$FSTAB" >"$tmp"
    chmod --reference="$FSTAB" "$tmp"
else
    chmod 0644 "$tmp"
fi
printf '%s\n' "$entry" >>"$tmp"
if [ -f "$FSTAB" ] && cmp -s "$tmp" "$FSTAB"; then
    log "fstab already has: $entry"
else
    mv "$tmp" "$FSTAB"
    log "fstab now has: $entry"
fi

mkdir -p "$MOUNT_POINT"
mounted="$(findmnt -n -o UUID --mountpoint "$MOUNT_POINT" || true)"
if [ "$mounted" = "$uuid" ]; then
    log "$MOUNT_POINT already mounted from UUID=$uuid"
elif [ -n "$mounted" ]; then
    die "$MOUNT_POINT is mounted from another filesystem (UUID=$mounted); unmount it first"
else
    # Mounting over files would hide them (e.g. backups written before the volume was attached).
    if [ -n "$(ls -A "$MOUNT_POINT")" ]; then
        die "$MOUNT_POINT is not empty; move its contents aside, then copy them onto the volume once it is mounted (see docs/disaster-recovery.md)"
    fi
    mount --fstab "$FSTAB" "$MOUNT_POINT"
    log "mounted UUID=$uuid at $MOUNT_POINT"
fi

# A Docker root at the top of the volume is the old layout: using docker/ would start the stack empty.
if [ -d "$MOUNT_POINT/volumes" ] && [ ! -d "$DOCKER_ROOT" ]; then
    die "$MOUNT_POINT holds a Docker data root at its top level (volumes/); move it into $DOCKER_ROOT first (docs/disaster-recovery.md, 'Moving the data volume to $MOUNT_POINT')"
fi
mkdir -p "$DOCKER_ROOT"
chmod 0710 "$DOCKER_ROOT"

# Docker's data root: set in daemon.json (other keys kept), read by Docker when it starts.
current_root=""
if [ -f "$DAEMON_JSON" ]; then
    current_root="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("data-root", ""))' "$DAEMON_JSON")" ||
        die "$DAEMON_JSON is not valid JSON; fix it by hand"
fi
if [ "$current_root" = "$DOCKER_ROOT" ]; then
    log "$DAEMON_JSON already has data-root $DOCKER_ROOT"
else
    if [ -n "$(ls -A "$DEFAULT_DOCKER_ROOT" 2>/dev/null)" ]; then
        die "Docker already keeps data in $DEFAULT_DOCKER_ROOT; moving its root to $DOCKER_ROOT would start the stack empty. Stop Docker and move the data first (docs/disaster-recovery.md)"
    fi
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" "$DOCKER_ROOT" <<'PY'
import json, os, sys
path, root = sys.argv[1], sys.argv[2]
config = {}
if os.path.exists(path):
    with open(path) as f:
        config = json.load(f)
config["data-root"] = root
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.chmod(path + ".tmp", 0o644)
os.replace(path + ".tmp", path)
PY
    log "$DAEMON_JSON now has data-root $DOCKER_ROOT"
fi

# With nofail the boot goes on without the volume; Docker must not, or it would start on an empty root.
dropin="$SYSTEMD_DIR/docker.service.d/coinpilot-data-volume.conf"
mkdir -p "$(dirname "$dropin")"
printf '[Unit]\nRequiresMountsFor=%s\n' "$MOUNT_POINT" >"$dropin"
# systemd regenerates its mount units from fstab and picks up the drop-in.
"$SYSTEMCTL" daemon-reload
