import { classifyLaunchError } from "../lib/launch/classify";
import { OciServiceError, renderProviderError } from "../lib/launch/simulator";

// Texts as OCI tools print them: the CLI's JSON body, the console banner, the Pulumi/Terraform
// provider's "status-code, message" block, and SDK error objects.
describe("classifyLaunchError", () => {
    test.each([
        ['{"code":"InternalError","message":"Out of host capacity.","status":500}', "InternalError", 500],
        ['ServiceError:\n{\n    "code": "InternalError",\n    "message": "Out of host capacity.",\n    "opc-request-id": "ABC/DEF",\n    "status": 500\n}', "InternalError", 500],
        ["Out of capacity for shape VM.Standard.A1.Flex in availability domain AD-1. Create the instance in a different availability domain or try again later.", undefined, undefined],
        ["OUT OF CAPACITY FOR SHAPE vm.standard.a1.flex in availability domain AD-1", undefined, undefined],
        ["500-InternalError, Out of host capacity.\nSuggestion: The service for this resource encountered an error. Please contact support for help with service: Core Instance\nOperation Name: LaunchInstance", "InternalError", 500],
    ])("capacity: %s", (text, code, status) => {
        const c = classifyLaunchError(text);
        expect(c.kind).toBe("capacity");
        expect(c.code).toBe(code);
        expect(c.status).toBe(status);
        expect(c.fix).toBeUndefined();
    });

    test("429 TooManyRequests is a throttle, without a hint when none was sent", () => {
        const fromProvider = classifyLaunchError("429-TooManyRequests, Too many requests for the user\nService: Core Instance");
        expect(fromProvider).toMatchObject({ kind: "throttle", status: 429, code: "TooManyRequests" });
        expect(fromProvider.retryAfterMs).toBeUndefined();
        expect(classifyLaunchError('{"code": "TooManyRequests", "message": "Too many requests for the user", "status": 429}').kind).toBe("throttle");
    });

    test("a Retry-After header on an SDK error becomes the throttle hint", () => {
        const c = classifyLaunchError(new OciServiceError(429, "TooManyRequests", "Too many requests for the user", { "Retry-After": "30" }));
        expect(c).toMatchObject({ kind: "throttle", retryAfterMs: 30_000 });
        expect(classifyLaunchError({ statusCode: 429, serviceCode: "TooManyRequests", message: "x", headers: new Map([["retry-after", "7"]]) }).retryAfterMs).toBe(7_000);
        expect(classifyLaunchError("429-TooManyRequests, Too many requests for the user\nRetry-After: 12").retryAfterMs).toBe(12_000);
    });

    test.each([
        ['{"code":"NotAuthorizedOrNotFound","message":"Authorization failed or requested resource not found.","status":404}', "NotAuthorizedOrNotFound", /coinpilot:compartmentId/],
        ["401-NotAuthenticated, The required information to complete authentication was not provided or was incorrect.", "NotAuthenticated", /fingerprint/],
        ['{"code":"InvalidParameter","message":"Shape VM.Standard.A1.Flex is not compatible with image","status":400}', "InvalidParameter", /aarch64/],
        ["400-LimitExceeded, The following service limits were exceeded: standard-a1-core-count. Request a service limit increase from the service limits page in the console.", "LimitExceeded", /existing A1 instance .*boot volume/],
    ])("fatal with a fix: %s", (text, code, fix) => {
        const c = classifyLaunchError(text);
        expect(c.kind).toBe("fatal");
        expect(c.code).toBe(code);
        expect(c.fix).toMatch(fix);
    });

    test("quota and service-limit wording is fatal even without the code", () => {
        expect(classifyLaunchError("QuotaExceeded: quota for a1-core-count in compartment exceeded").kind).toBe("fatal");
        expect(classifyLaunchError("The following service limits were exceeded: standard-a1-memory-count").fix).toMatch(/free 4 OCPU/);
    });

    test("anything else is unknown, including other 5xx and network failures", () => {
        expect(classifyLaunchError('{"code":"InternalError","message":"Internal error occurred","status":500}').kind).toBe("unknown");
        expect(classifyLaunchError("409-IncorrectState, The instance is in an incorrect state").kind).toBe("unknown");
        expect(classifyLaunchError(new Error("read ECONNRESET")).kind).toBe("unknown");
        expect(classifyLaunchError(undefined).kind).toBe("unknown");
        // A code that merely looks like an object key must not be taken for a known one.
        expect(classifyLaunchError({ statusCode: 502, serviceCode: "constructor", message: "bad gateway" }).kind).toBe("unknown");
    });

    test("the simulator's provider-style errors classify like the real ones", () => {
        expect(classifyLaunchError(renderProviderError(new OciServiceError(500, "InternalError", "Out of host capacity."))).kind).toBe("capacity");
        expect(classifyLaunchError(renderProviderError(new OciServiceError(400, "LimitExceeded", "The following service limits were exceeded: standard-a1-core-count"))).kind).toBe("fatal");
    });
});
