// Renders coinpilot-compose.service, the unit that starts the Compose stack at boot.
import { readFileSync } from "fs";
import * as path from "path";
import { render } from "./render";

export const UNIT_NAME = "coinpilot-compose.service";
export const UNIT_TEMPLATE_PATH = path.resolve(__dirname, "..", "..", "assets", "systemd", `${UNIT_NAME}.tmpl`);

/** Where the app lives on the host and how Compose is invoked there. */
export interface ComposeUnitValues {
    /** Absolute checkout directory; the unit's WorkingDirectory. */
    readonly appDir: string;
    /** Compose file, relative to appDir. */
    readonly composeFile: string;
    /** Env file for variable interpolation, relative to appDir. */
    readonly envFile: string;
    /** Start (and reload) timeout in seconds; the first arm64 build of every image is slow. */
    readonly startTimeoutSec: number;
    /** Stop timeout in seconds (`compose down` waits for each container's grace period). */
    readonly stopTimeoutSec: number;
}

/**
 * The seeds' layout: the checkout in /opt/coin-pilot, the compose file and its `.env` side by side
 * in deploy/cloud/oci, so the runbooks' `cd deploy/cloud/oci && docker compose --env-file .env …`
 * and any relative path inside the compose file keep working unchanged.
 */
export const COMPOSE_UNIT_DEFAULTS: ComposeUnitValues = {
    appDir: "/opt/coin-pilot",
    composeFile: "deploy/cloud/oci/docker-compose.prod.yml",
    envFile: "deploy/cloud/oci/.env",
    startTimeoutSec: 1800,
    stopTimeoutSec: 300,
};

// Unit files split ExecStart on whitespace and expand % and $: keep paths to a plain charset.
const SAFE_PATH = /^[A-Za-z0-9._\/-]+$/;

function checkValues(v: ComposeUnitValues): string[] {
    const problems: string[] = [];
    if (!v.appDir.startsWith("/") || !SAFE_PATH.test(v.appDir)) problems.push(`appDir "${v.appDir}" must be an absolute path of letters, digits, '.', '_', '-', '/'`);
    for (const [key, value] of [["composeFile", v.composeFile], ["envFile", v.envFile]] as const) {
        if (value.startsWith("/") || value.split("/").includes("..") || !SAFE_PATH.test(value)) {
            problems.push(`${key} "${value}" must be a path inside appDir without '..' or special characters`);
        }
    }
    for (const [key, value] of [["startTimeoutSec", v.startTimeoutSec], ["stopTimeoutSec", v.stopTimeoutSec]] as const) {
        if (!Number.isInteger(value) || value < 30 || value > 86400) problems.push(`${key} ${value} must be a whole number of seconds in 30–86400`);
    }
    return problems;
}

/** The unit text for the given layout (defaults: the seeds' layout). Throws on unsafe values. */
export function renderComposeUnit(values: ComposeUnitValues = COMPOSE_UNIT_DEFAULTS, template = readFileSync(UNIT_TEMPLATE_PATH, "utf8")): string {
    const problems = checkValues(values);
    if (problems.length) throw new Error(`${UNIT_NAME}: ${problems.join("; ")}`);
    return render(
        template,
        {
            appDir: values.appDir,
            composeFile: values.composeFile,
            envFile: values.envFile,
            startTimeoutSec: String(values.startTimeoutSec),
            stopTimeoutSec: String(values.stopTimeoutSec),
        },
        UNIT_NAME,
    );
}
