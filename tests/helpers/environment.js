// jest's node environment, with one cost removed: @pulumi/pulumi reads `new Error().stack` eagerly
// (four times per output property of every resource in debuggablePromise, for a leak report at exit;
// once per resource in Resource.callsites, for the source position sent to the engine), and jest
// source-maps every frame of each, up to its 100-frame limit. Those two capture sites get V8's plain
// frames (a leak report gets Node's default depth of 10); every other stack (a failing test's, an
// error a test checks) still goes through jest's source-mapping formatter. A program evaluation
// under mocks spent more than half its CPU there (tests/host.test.ts: 21 of 38 s).
const path = require("path");
const { TestEnvironment } = require("jest-environment-node");

const PULUMI_SDK = `${path.sep}@pulumi${path.sep}pulumi${path.sep}`;
/** The capture sites, by the function that calls `new Error()`, and how many frames each keeps. */
const EAGER_CAPTURES = new Map([
    ["debuggablePromise", 10],
    ["callsites", Infinity],
]);

function plainStack(error, frames, depth = Infinity) {
    const head = `${error.name ?? "Error"}: ${error.message ?? ""}`;
    return head + frames.slice(0, depth).map((frame) => `\n    at ${frame}`).join("");
}

/** The frames to keep when `frames` is one of the SDK's eager captures; undefined otherwise. */
function pulumiCaptureDepth(frames) {
    const top = frames[0];
    if (top === undefined || !(top.getFileName() ?? "").includes(PULUMI_SDK)) return undefined;
    return EAGER_CAPTURES.get(top.getFunctionName());
}

class PulumiTestEnvironment extends TestEnvironment {
    constructor(config, context) {
        super(config, context);
        // V8 asks the error's own realm first; with no formatter there, Node falls back to the main
        // realm's, where jest installs its source-mapping one (read at call time, as jest swaps caches).
        this.global.Error.prepareStackTrace = (error, frames) => {
            const depth = pulumiCaptureDepth(frames);
            if (depth !== undefined) return plainStack(error, frames, depth);
            if (typeof Error.prepareStackTrace !== "function") return plainStack(error, frames);
            return Error.prepareStackTrace(error, frames);
        };
    }
}

module.exports = PulumiTestEnvironment;
