// Classifies a failed LaunchInstance call from whatever shape it reaches us in: the Pulumi
// OCI provider's error text ("500-InternalError, Out of host capacity.\nSuggestion: ..."),
// the OCI CLI's JSON body, the console banner, or an SDK-style error object.

export type ErrorClass = "capacity" | "throttle" | "fatal" | "unknown";

export interface Classification {
    readonly kind: ErrorClass;
    /** OCI service code when one could be read, e.g. "InternalError", "LimitExceeded". */
    readonly code?: string;
    readonly status?: number;
    /** Server hint (Retry-After, delta-seconds or HTTP-date) for a 429 or 503, in milliseconds from now. */
    readonly retryAfterMs?: number;
    /** The API operation that failed, when the text names it ("Operation Name: LaunchInstance"). */
    readonly operation?: string;
    /** One line describing what OCI said, for log lines. */
    readonly summary: string;
    /** For fatal errors: what the user must change before running `pulumi up` again. */
    readonly fix?: string;
}

interface Extracted {
    text: string;
    status?: number;
    code?: string;
    message?: string;
    /** Raw Retry-After value (seconds or an HTTP-date), as the error carried it. */
    retryAfter?: string;
}

function field(obj: Record<string, unknown>, ...names: string[]): unknown {
    for (const name of names) if (obj[name] !== undefined && obj[name] !== null) return obj[name];
    return undefined;
}

function headerRetryAfter(headers: unknown): string | undefined {
    if (typeof headers !== "object" || headers === null) return undefined;
    const getter = (headers as { get?: unknown }).get;
    const raw =
        typeof getter === "function"
            ? (getter as (k: string) => unknown).call(headers, "retry-after")
            : Object.entries(headers as Record<string, unknown>).find(([k]) => k.toLowerCase() === "retry-after")?.[1];
    return typeof raw === "string" || typeof raw === "number" ? String(raw) : undefined;
}

/**
 * Milliseconds a Retry-After value asks for (RFC 9110 10.2.3): delta-seconds, or an HTTP-date
 * counted from `nowMs` (a date already past asks for no wait). Undefined when unreadable.
 */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text) * 1000;
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and the two obsolete forms; Date.parse reads all three.
    if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
    // HTTP-dates are always GMT; asctime's form omits the zone, which Date.parse would read as local time.
    const at = Date.parse(/\b(GMT|UTC)\b/.test(text) ? text : `${text} GMT`);
    return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

function extract(error: unknown): Extracted {
    if (typeof error === "string") return { text: error };
    if (typeof error !== "object" || error === null) return { text: String(error) };
    const obj = error as Record<string, unknown>;
    const status = Number(field(obj, "statusCode", "status"));
    const code = field(obj, "serviceCode", "code");
    const message = field(obj, "message");
    const retryAfterSeconds = field(obj, "retryAfterSeconds");
    return {
        text: [typeof code === "string" ? code : "", typeof message === "string" ? message : ""].join(" ").trim() || String(error),
        status: Number.isFinite(status) ? status : undefined,
        code: typeof code === "string" ? code : undefined,
        message: typeof message === "string" ? message : undefined,
        retryAfter: typeof retryAfterSeconds === "number" ? String(retryAfterSeconds) : headerRetryAfter(obj.headers),
    };
}

/** Pulls status/code/message out of the texts OCI tools print, when the caller had only text. */
function parseText(text: string): Omit<Extracted, "text" | "retryAfter"> {
    // OCI CLI / REST body: {"code": "InternalError", "message": "Out of host capacity.", "status": 500}
    const jsonCode = /"code"\s*:\s*"([A-Za-z]+)"/.exec(text)?.[1];
    const jsonStatus = /"status"\s*:\s*(\d{3})/.exec(text)?.[1];
    const jsonMessage = /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
    if (jsonCode) return { code: jsonCode, status: jsonStatus ? Number(jsonStatus) : undefined, message: jsonMessage };
    // Terraform/Pulumi OCI provider: "500-InternalError, Out of host capacity."
    const provider = /\b([1-5]\d\d)-([A-Za-z]+),\s*([^\n]*)/.exec(text);
    if (provider) return { status: Number(provider[1]), code: provider[2], message: provider[3].trim() };
    return {};
}

/** A Retry-After header printed into a text ("Retry-After: 30", "retry-after": "Sun, 06 Nov ..."). */
function textRetryAfter(text: string): string | undefined {
    return /retry-after["']?\s*[:=]\s*["']?(\d+\b|[A-Za-z]{3,9},? [^"'\n]+)/i.exec(text)?.[1];
}

/**
 * terraform-provider-oci prints the failed operation on its own line ("Operation Name:
 * LaunchInstance"); a failure of any other call (the GetInstance polls after a launch went
 * through) means the instance may already exist.
 */
function textOperation(text: string): string | undefined {
    return /Operation Name:\s*([A-Za-z]+)/.exec(text)?.[1];
}

const FIXES: Record<string, string> = {
    NotAuthenticated:
        "OCI rejected the API credentials: check the user OCID, tenancy OCID, key fingerprint and private key of the OCI provider config (oci:userOcid, oci:tenancyOcid, oci:fingerprint, oci:privateKey or ~/.oci/config) and that the API key is still uploaded to the user.",
    NotAuthorizedOrNotFound:
        "An OCID in the launch request does not exist or the user may not use it: check coinpilot:compartmentId, the image OCID and the subnet, that they are in this region, and that the user's group has a policy allowing 'manage instance-family' in that compartment.",
    InvalidParameter:
        "OCI rejected a launch parameter: read the message above, then fix the shape/OCPU/memory, image OCID (must be an aarch64 image for A1.Flex) or availability domain in stack config.",
    LimitExceeded:
        "The tenancy's free allowance or service limit is used up: an existing A1 instance (including a stopped one) or a leftover boot volume may already use the free 4 OCPU / 24 GB A1 and 200 GB block storage; terminate it or lower the OCPU/memory/boot volume size, or request a limit increase.",
};

function fatalFix(code: string | undefined, status: number | undefined, text: string): string | undefined {
    if (code && Object.hasOwn(FIXES, code)) return FIXES[code];
    if (/limitexceeded|quotaexceeded|service limit|quota/i.test(text)) return FIXES.LimitExceeded;
    if (status === 401) return FIXES.NotAuthenticated;
    if (status === 404) return FIXES.NotAuthorizedOrNotFound;
    if (status === 400 || /invalidparameter|missingparameter|cannotparserequest/i.test(code ?? "")) return FIXES.InvalidParameter;
    return undefined;
}

/** Decides how the hunt treats one failed launch; `nowMs` dates an HTTP-date Retry-After. Never throws. */
export function classifyLaunchError(error: unknown, nowMs: number = Date.now()): Classification {
    const extracted = extract(error);
    const parsed = parseText(extracted.text);
    const status = extracted.status ?? parsed.status;
    const code = extracted.code ?? parsed.code;
    const message = (extracted.message ?? parsed.message ?? extracted.text).split("\n")[0].trim();
    const summary = [status, code].filter((p) => p !== undefined).join(" ") + (message ? ` ${message}` : "");
    const text = extracted.text;
    const operation = textOperation(text);
    const base = { code, status, summary: summary.trim(), ...(operation ? { operation } : {}) };
    const rawRetryAfter = extracted.retryAfter ?? textRetryAfter(text);
    const retryAfterMs = rawRetryAfter === undefined ? undefined : parseRetryAfter(rawRetryAfter, nowMs);
    const hint = retryAfterMs === undefined ? {} : { retryAfterMs };

    if (/out of (host )?capacity/i.test(text)) return { kind: "capacity", ...base };
    if (status === 429 || code === "TooManyRequests" || /too many requests/i.test(text)) return { kind: "throttle", ...base, ...hint };
    const fix = fatalFix(code, status, text);
    if (fix) return { kind: "fatal", ...base, fix };
    return { kind: "unknown", ...base, ...hint };
}
