// Where CoinPilot's retained data lives on the host. The data block volume is mounted at
// DATA_MOUNT_POINT and holds two siblings: Docker's data root (named volumes: db, redis, n8n,
// grafana) and the backups, so both survive a recreate of the VM. Without a data volume the same
// paths are plain directories on the boot volume (Docker then keeps its default root).
// assets/host/mount-data-volume.sh and assets/backup/lib.sh default to these values (tests check).

/** Where the data volume shows up on the host: OCI's consistent device path for the first data disk. */
export const DATA_DEVICE_PATH = "/dev/oracleoci/oraclevdb";
/** The volume's mount point. Not Docker's own root, so the backups can sit beside it on the volume. */
export const DATA_MOUNT_POINT = "/srv/coinpilot-data";
/** Docker's data root on the volume (`data-root` in DOCKER_DAEMON_CONFIG). */
export const DOCKER_DATA_ROOT = `${DATA_MOUNT_POINT}/docker`;
export const DOCKER_DAEMON_CONFIG = "/etc/docker/daemon.json";
/** Backups land in BACKUP_ROOT/<kind>/. */
export const BACKUP_ROOT = `${DATA_MOUNT_POINT}/backups`;
