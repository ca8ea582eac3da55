// Host-side alerts (assets/backup/alert.sh): the Discord webhook they post to lives in a root-only
// file on the host, installed from the step's stdin. Pure: the path and the commands.
import { rootOnlyFileCommand, shellQuote } from "./shell";

/** Root-only file holding the webhook URL (line 1); alert.sh reads the same path (a test keeps them equal). */
export const ALERT_WEBHOOK_FILE = "/etc/coinpilot-ops/alert-webhook";

/** Installs the webhook file from stdin; the URL never reaches a command line. */
export function alertWebhookCommand(): string {
    return rootOnlyFileCommand(ALERT_WEBHOOK_FILE);
}

/** Removes the webhook file (no webhook configured any more): alerts then go to the journal only. */
export function alertWebhookDeleteCommand(): string {
    return `sudo rm -f ${shellQuote(ALERT_WEBHOOK_FILE)}`;
}
