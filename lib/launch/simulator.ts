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
        /** Whether 429 answers carry a Retry-After header. */
        readonly retryAfter: boolean;
    };
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
    private readonly background: number[];
    private backgroundNext = 0;
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
        this.background = generateBackground(random, params.rateLimit, horizon);
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
        while (this.backgroundNext < this.background.length && this.background[this.backgroundNext] <= to) {
            this.refill(this.background[this.backgroundNext]);
            if (this.tokens >= 1) this.tokens -= 1;
            this.backgroundNext += 1;
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
            const waitMs = Math.ceil((1 - this.tokens) / (this.params.rateLimit.refillPerMinute / MINUTE) / 1000) * 1000;
            const retryAfter = this.params.rateLimit.retryAfter ? waitMs : undefined;
            this.requests.push({ atMs: at, ad, outcome: "throttled", retryAfterMs: retryAfter });
            throw new OciServiceError(429, "TooManyRequests", "Too many requests for the user", retryAfter === undefined ? {} : { "retry-after": String(retryAfter / 1000) });
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

function poisson(random: () => number, perMinute: number, from: number, to: number, into: number[]): void {
    for (let t = from + exponential(random, perMinute / MINUTE); t < to; t += exponential(random, perMinute / MINUTE)) into.push(t);
}

/** Background request times: a calm Poisson stream, interrupted by busy spells if configured. */
function generateBackground(random: () => number, limit: ScenarioParams["rateLimit"], horizon: number): number[] {
    const times: number[] = [];
    const busy = limit.busy;
    if (!busy) {
        poisson(random, limit.backgroundPerMinute, 0, horizon, times);
        return times;
    }
    for (let t = 0; t < horizon; ) {
        const calmEnd = Math.min(horizon, t + exponential(random, busy.perHour / HOUR));
        poisson(random, limit.backgroundPerMinute, t, calmEnd, times);
        const busyEnd = Math.min(horizon, calmEnd + exponential(random, 1 / (busy.meanMinutes * MINUTE)));
        poisson(random, busy.perMinute, calmEnd, busyEnd, times);
        t = busyEnd;
    }
    return times;
}

function generateWindows(random: () => number, p: ScenarioParams, horizon: number): CapacityWindow[] {
    const windows: CapacityWindow[] = [];
    for (let t = exponential(random, p.windowsPerHour / HOUR); t < horizon; t += exponential(random, p.windowsPerHour / HOUR)) {
        const natural = exponential(random, 1 / (p.meanWindowMinutes * MINUTE));
        const taken = exponential(random, p.competitorTakesPerHour / HOUR);
        windows.push({ openMs: t, closeMs: t + Math.min(natural, taken) });
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

/** How the OCI provider prints a service error ("500-InternalError, Out of host capacity."). */
export function renderProviderError(error: unknown): string {
    if (error instanceof OciServiceError) {
        // The provider drops response headers, so a Retry-After never reaches an error hook.
        return `${error.statusCode}-${error.serviceCode}, ${error.message}\nService: Core Instance\nOperation Name: LaunchInstance`;
    }
    return error instanceof Error ? error.message : String(error);
}
