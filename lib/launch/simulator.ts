// A seeded fake of OCI's LaunchInstance for one tenancy, on a virtual clock. Capacity shows up
// in random windows per availability domain (arrival rate, natural duration, and competing
// tenants who take it), a per-tenancy token bucket answers 429 (optionally with Retry-After),
// and fatal errors can be injected. The same seed always yields the same capacity and
// background-traffic timeline, whatever the client does, so policies compare fairly.

/** Deterministic PRNG (mulberry32): tiny, fast, and good enough for simulation. */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function exponential(random: () => number, ratePerMs: number): number {
    return ratePerMs <= 0 ? Infinity : -Math.log(1 - random()) / ratePerMs;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Time that only moves when someone sleeps on it. */
export class VirtualClock {
    private t = 0;
    now = (): number => this.t;
    sleep = async (ms: number): Promise<void> => {
        if (!(ms >= 0)) throw new Error(`cannot sleep ${ms} ms`);
        this.t += ms;
    };
}

export interface CapacityWindow {
    readonly openMs: number;
    readonly closeMs: number;
}

export type InjectedFatal = "LimitExceeded" | "NotAuthenticated" | "NotAuthorizedOrNotFound" | "InvalidParameter";

export interface ScenarioParams {
    readonly seed: number;
    /** Region AD names, e.g. ["Uocm:AP-CHUNCHEON-1-AD-1"]. */
    readonly ads: readonly string[];
    /** Capacity windows opening per AD per hour. */
    readonly windowsPerHour: number;
    /** Mean natural length of a window, in minutes. */
    readonly meanWindowMinutes: number;
    /** Rate at which competing tenants grab an open window, per hour. */
    readonly competitorTakesPerHour: number;
    readonly rateLimit: {
        /** Token bucket size (requests that may go out back to back). */
        readonly burst: number;
        readonly refillPerMinute: number;
        /** Other API traffic of the same tenancy, drawing on the same bucket. */
        readonly backgroundPerMinute: number;
        /** Busy spells of that traffic (a deploy pipeline, a bulk script), when it runs far hotter. */
        readonly busy?: { readonly perHour: number; readonly meanMinutes: number; readonly perMinute: number };
        /** Whether 429 answers carry a Retry-After header: delta-seconds (true) or an HTTP-date. */
        readonly retryAfter: boolean | "http-date";
    };
    /**
     * Capacity appears only in this daily slot (the hour-of-day clock starts at a seeded random
     * time), at `windowsPerHour` while the slot lasts.
     */
    readonly daily?: { readonly fromHour: number; readonly hours: number };
    /** Fails this call (1-based) and every later one with a fatal error. */
    readonly fatal?: { readonly atCall: number; readonly code: InjectedFatal };
    /** How far ahead the timeline is generated. */
    readonly horizonHours: number;
    /** Explicit windows per AD index, replacing the random ones (for tests). */
    readonly windows?: readonly (readonly CapacityWindow[])[];
}

/** Shaped like the OCI SDK's service error, with the texts OCI really sends. */
export class OciServiceError extends Error {
    constructor(
        readonly statusCode: number,
        readonly serviceCode: string,
        message: string,
        readonly headers: Record<string, string> = {},
    ) {
        super(message);
        this.name = "OciServiceError";
    }
}

const FATAL_ERRORS: Record<InjectedFatal, [number, string]> = {
    LimitExceeded: [400, "The following service limits were exceeded: standard-a1-core-count. Request a service limit increase from the service limits page in the console."],
    NotAuthenticated: [401, "The required information to complete authentication was not provided or was incorrect."],
    NotAuthorizedOrNotFound: [404, "Authorization failed or requested resource not found."],
    InvalidParameter: [400, "Shape VM.Standard.A1.Flex is not compatible with image ocid1.image.oc1.ap-chuncheon-1.example."],
};

export type RequestOutcome = "launched" | "capacity" | "throttled" | "fatal";

export interface RecordedRequest {
    readonly atMs: number;
    readonly ad: string;
    readonly outcome: RequestOutcome;
    /** Retry-After the API announced with a 429, if any. */
    readonly retryAfterMs?: number;
}

export class FakeOciLaunchApi {
    readonly requests: RecordedRequest[] = [];
    private readonly windows: CapacityWindow[][];
    private readonly background: BackgroundTraffic;
    private backgroundNext: number;
    private tokens: number;
    private tokensAt = 0;
    private launched = false;

    constructor(
        readonly params: ScenarioParams,
        private readonly now: () => number,
    ) {
        const random = seededRandom(params.seed);
        const horizon = params.horizonHours * HOUR;
        this.windows = params.ads.map((_, i) => [...(params.windows?.[i] ?? generateWindows(random, params, horizon))]);
        // Its own stream, drawn lazily: two weeks of busy traffic would be a large array per hunt.
        this.background = new BackgroundTraffic(seededRandom(params.seed ^ 0xb6), params.rateLimit);
        this.backgroundNext = this.background.next();
        this.tokens = params.rateLimit.burst;
    }

    /** Capacity windows of one AD, for assertions. */
    windowsOf(adIndex: number): readonly CapacityWindow[] {
        return this.windows[adIndex];
    }

    get calls(): number {
        return this.requests.length;
    }

    get throttled(): number {
        return this.requests.filter((r) => r.outcome === "throttled").length;
    }

    private refill(to: number): void {
        const rate = this.params.rateLimit.refillPerMinute / MINUTE;
        this.tokens = Math.min(this.params.rateLimit.burst, this.tokens + (to - this.tokensAt) * rate);
        this.tokensAt = to;
    }

    private drainBackground(to: number): void {
        while (this.backgroundNext <= to) {
            this.refill(this.backgroundNext);
            if (this.tokens >= 1) this.tokens -= 1;
            this.backgroundNext = this.background.next();
        }
        this.refill(to);
    }

    /** LaunchInstance in one AD: resolves with the instance OCID or throws an OciServiceError. */
    async launch(ad: string): Promise<string> {
        const at = this.now();
        const adIndex = this.params.ads.indexOf(ad);
        if (adIndex < 0) throw new OciServiceError(400, "InvalidParameter", `Invalid availabilityDomain ${ad}`);
        if (this.launched) throw new Error("simulator: the instance was already launched");
        this.drainBackground(at);
        if (this.tokens < 1) {
            const tokenWaitMs = (1 - this.tokens) / (this.params.rateLimit.refillPerMinute / MINUTE);
            const form = this.params.rateLimit.retryAfter;
            // Both header forms speak whole seconds: a delay, or an instant (the virtual clock counts
            // from the Unix epoch, so an HTTP-date names a virtual instant).
            const retryAfter = !form ? undefined : form === "http-date" ? Math.ceil((at + tokenWaitMs) / 1000) * 1000 - at : Math.ceil(tokenWaitMs / 1000) * 1000;
            this.requests.push({ atMs: at, ad, outcome: "throttled", retryAfterMs: retryAfter });
            const header = retryAfter === undefined ? undefined : form === "http-date" ? new Date(at + retryAfter).toUTCString() : String(retryAfter / 1000);
            throw new OciServiceError(429, "TooManyRequests", "Too many requests for the user", header === undefined ? {} : { "retry-after": header });
        }
        this.tokens -= 1;
        const fatal = this.params.fatal;
        if (fatal && this.requests.length + 1 >= fatal.atCall) {
            this.requests.push({ atMs: at, ad, outcome: "fatal" });
            const [status, message] = FATAL_ERRORS[fatal.code];
            throw new OciServiceError(status, fatal.code, message);
        }
        const open = this.windows[adIndex].findIndex((w) => w.openMs <= at && at < w.closeMs);
        if (open < 0) {
            this.requests.push({ atMs: at, ad, outcome: "capacity" });
            throw new OciServiceError(500, "InternalError", "Out of host capacity.");
        }
        this.launched = true;
        this.requests.push({ atMs: at, ad, outcome: "launched" });
        return `ocid1.instance.oc1.sim.${this.params.seed}.${this.requests.length}`;
    }
}

/** Background request times: a calm Poisson stream, interrupted by busy spells if configured. */
class BackgroundTraffic {
    private t = 0;
    /** End of the current calm or busy phase. */
    private phaseEnd: number;
    private busyNow = false;

    constructor(
        private readonly random: () => number,
        private readonly limit: ScenarioParams["rateLimit"],
    ) {
        this.phaseEnd = limit.busy ? exponential(random, limit.busy.perHour / HOUR) : Infinity;
    }

    /** The next request's time. */
    next(): number {
        const busy = this.limit.busy;
        if (!busy) return (this.t += exponential(this.random, this.limit.backgroundPerMinute / MINUTE));
        for (;;) {
            const at = this.t + exponential(this.random, (this.busyNow ? busy.perMinute : this.limit.backgroundPerMinute) / MINUTE);
            if (at < this.phaseEnd) return (this.t = at);
            // The phase ended first: a Poisson stream forgets, so the next one starts from its end.
            this.t = this.phaseEnd;
            this.busyNow = !this.busyNow;
            this.phaseEnd = this.t + exponential(this.random, this.busyNow ? 1 / (busy.meanMinutes * MINUTE) : busy.perHour / HOUR);
        }
    }
}

function generateWindows(random: () => number, p: ScenarioParams, horizon: number): CapacityWindow[] {
    const windows: CapacityWindow[] = [];
    const dayStart = p.daily ? random() * 24 * HOUR : 0;
    const inSlot = (t: number): boolean => {
        if (!p.daily) return true;
        const hour = ((t + dayStart) % (24 * HOUR)) / HOUR;
        return (hour - p.daily.fromHour + 24) % 24 < p.daily.hours;
    };
    for (let t = exponential(random, p.windowsPerHour / HOUR); t < horizon; t += exponential(random, p.windowsPerHour / HOUR)) {
        const natural = exponential(random, 1 / (p.meanWindowMinutes * MINUTE));
        const taken = exponential(random, p.competitorTakesPerHour / HOUR);
        if (inSlot(t)) windows.push({ openMs: t, closeMs: t + Math.min(natural, taken) });
    }
    return windows;
}

/**
 * The Pulumi engine's side of the error-hook contract (pkg/resource/deploy/retries.go):
 * run the operation; on failure prepend the error to the list and, below the cap, ask the
 * hook whether to run the same operation again. Lets tests and the benchmark drive the
 * real hook adapter the way `pulumi up` does.
 */
export async function runEngineRetries<T>(
    operation: () => Promise<T>,
    hook: (errors: string[]) => Promise<boolean>,
    cap: number,
): Promise<T> {
    const failures: string[] = [];
    for (;;) {
        try {
            return await operation();
        } catch (error) {
            failures.unshift(renderProviderError(error));
            if (failures.length >= cap) throw new Error("maximum number of error hook retries reached");
            if (!(await hook([...failures]))) throw new Error(failures[0]);
        }
    }
}

/**
 * How an error hook receives a failed LaunchInstance: terraform-provider-oci's service error
 * format (internal/tfresource/errors.go) inside the bridge's error list. The format has no
 * place for response headers, so a Retry-After never reaches the hook.
 */
export function renderProviderError(error: unknown, operation = "LaunchInstance"): string {
    if (error instanceof OciServiceError) {
        return (
            `1 error occurred:\n\t* ${error.statusCode}-${error.serviceCode}, ${error.message}\n` +
            `Suggestion: Please retry or contact support for help with service: Core Instance\n` +
            `Documentation: https://registry.terraform.io/providers/oracle/oci/latest/docs/resources/core_instance \n` +
            `API Reference: https://docs.oracle.com/iaas/api/#/en/iaas/20160918/Instance/${operation} \n` +
            `Request Target: POST https://iaas.ap-chuncheon-1.oraclecloud.com/20160918/instances \n` +
            `Provider version: 7.0.0, released on 2025-06-01.  \n` +
            `Service: Core Instance \nOperation Name: ${operation} \nOPC request ID: sim\n`
        );
    }
    return error instanceof Error ? error.message : String(error);
}

/** terraform-provider-oci's retry budget for a failed call (internal/tfresource/retry.go). */
function providerRetryBudgetMs(error: unknown): number {
    if (!(error instanceof OciServiceError)) return 0;
    const status = error.statusCode;
    if (status === 429) return 10 * MINUTE;
    if (status === 500 && /out of host capacity/i.test(error.message)) return 0;
    if (status === 409 || status >= 500) return 2 * MINUTE;
    return 0;
}

/**
 * One Create of the instance by the OCI provider: LaunchInstance, retried by the provider itself
 * unless `disable_auto_retries` is set. Its loop (internal/tfresource/retry.go): retry while the
 * time since the first call is under the error's budget (429: 10 min; out of host capacity: never),
 * waiting 1 s to 2*n^2 s (n capped at 12), trimmed so the last retry lands near the budget's end.
 * Retry-After is ignored.
 */
export async function providerLaunch(
    api: FakeOciLaunchApi,
    ad: string,
    clock: VirtualClock,
    random: () => number,
    autoRetries: boolean,
): Promise<string> {
    const started = clock.now();
    for (let attempt = 1; ; attempt++) {
        try {
            return await api.launch(ad);
        } catch (error) {
            const budget = autoRetries ? providerRetryBudgetMs(error) : 0;
            const waited = clock.now() - started;
            if (waited >= budget) throw error;
            const n = Math.min(attempt, 12);
            let backoff = 1000 + random() * (2 * n * n * 1000 - 1000);
            if (waited + backoff > budget) backoff = Math.min(backoff, budget - waited + random() * 0.05 * budget + 1000);
            await clock.sleep(backoff);
        }
    }
}
