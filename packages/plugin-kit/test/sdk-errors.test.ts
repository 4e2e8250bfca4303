import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  type ErrorCode,
  errorCodeForStatus,
  FerryError,
  isNetworkError,
  redactSecrets,
  type SdkErrorContext,
  sdkErrorMapper,
  stallError,
} from "../src/index.ts";

describe("helpers for mapping SDK errors", () => {
  it("maps HTTP statuses every storage API shares", () => {
    expect([404, 412, 401, 403, 408, 429, 500, 503, 400, 416].map(errorCodeForStatus)).toEqual([
      "NotFound",
      "ConditionNotMet",
      "PermissionDenied",
      "PermissionDenied",
      "Transient",
      "Transient",
      "Transient",
      "Transient",
      "InvalidInput",
      "InvalidInput",
    ]);
    expect(errorCodeForStatus(409)).toBeUndefined();
    expect(errorCodeForStatus(undefined)).toBeUndefined();
  });

  it("recognises dropped and refused connections", () => {
    expect(isNetworkError("ECONNRESET")).toBe(true);
    expect(isNetworkError("ENOENT")).toBe(false);
    expect(isNetworkError(undefined)).toBe(false);
  });

  it("redacts literal secrets and pattern values, keeping the pattern's prefix", () => {
    const text = "GET /b?X-Amz-Signature=abc123&x=1 with key wJalrXUtnFEMI and short ab";
    expect(
      redactSecrets(text, { secrets: ["wJalrXUtnFEMI", "ab"], patterns: [/(X-Amz-Signature=)[^&]+/g] }),
    ).toBe("GET /b?X-Amz-Signature=<redacted>&x=1 with key <redacted> and short ab");
  });
});

/** A made-up SDK's error: what a plugin author hands the kit. */
interface ToyError {
  name?: string;
  message?: string;
  code?: string;
  http?: { status?: number; id?: string };
  request?: { headers: Record<string, string> };
}

const mapToyError = sdkErrorMapper<ToyError, SdkErrorContext & { region?: string }>({
  system: "toy",
  object: "thing",
  facts: (error) => ({
    name: error.name ?? "Error",
    status: error.http?.status,
    message: error.message,
    requestId: error.http?.id,
    code: error.code,
  }),
  codes: { NoSuchThing: "NotFound", Busy: "Transient", Locked: "ConditionNotMet", BadSum: "Integrity" },
  statuses: { 409: "AlreadyExists" },
  messages: [{ pattern: /checksum/i, status: 400, code: "Integrity" }],
  classify: (error, _facts, context) =>
    context.region === undefined && error.message === "no region" ? "InvalidInput" : undefined,
  describe: (_code, error, _facts, context) =>
    error.message === "no region" && context.region === undefined ? "set a region" : undefined,
  permissionHint: "check the toy key",
  endpointHint: () => "check TOY_ENDPOINT",
});

const toy = (name: string, status?: number, extra: Partial<ToyError> = {}): ToyError => ({
  name,
  message: `${name} happened`,
  ...(status === undefined ? {} : { http: { status, id: "req-1" } }),
  ...extra,
});

describe("the error-mapping kit: a plugin's table in, its mapper out", () => {
  const context = { operation: "write", root: "box", path: "a/b.txt" };

  it("decides the code: hook, abort, names, messages, network, statuses, then Unexpected", () => {
    const cases: Array<[ToyError, ErrorCode]> = [
      [{ message: "no region" }, "InvalidInput"],
      [toy("AbortError"), "Aborted"],
      [toy("Error", undefined, { code: "ABORT_ERR" }), "Aborted"],
      [toy("NoSuchThing", 404), "NotFound"],
      // The service's own name decides over a status that says something else.
      [toy("Busy", 400), "Transient"],
      [toy("InvalidThing", 400, { message: "Checksum did not match" }), "Integrity"],
      [toy("InvalidThing", 400), "InvalidInput"],
      [toy("Error", undefined, { code: "ECONNRESET" }), "Transient"],
      [toy("Conflict", 409), "AlreadyExists"],
      [toy("Whatever", 404), "NotFound"],
      [toy("Whatever", 408), "Transient"],
      [toy("Whatever", 403), "PermissionDenied"],
      [toy("Whatever", 418), "Unexpected"],
      [toy("Whatever"), "Unexpected"],
    ];
    for (const [error, code] of cases) expect(mapToyError(error, context).code, inspect(error)).toBe(code);
  });

  it("makes an SDK's own abort Transient when the caller's signal did not fire", () => {
    expect(mapToyError(toy("AbortError"), { ...context, callerAborted: false }).code).toBe("Transient");
    expect(mapToyError(toy("AbortError"), { ...context, callerAborted: true }).code).toBe("Aborted");
  });

  it("says what happened in one line naming the place", () => {
    const message = (error: ToyError, extra: Partial<SdkErrorContext> = {}) =>
      mapToyError(error, { ...context, ...extra }).message;
    expect(message(toy("NoSuchThing", 404))).toBe("write toy://box/a/b.txt: no such thing");
    expect(message(toy("NoSuchThing", 404), { path: undefined })).toBe("write toy://box: no such thing");
    expect(message(toy("Locked", 412))).toBe(
      "write toy://box/a/b.txt: the precondition failed (a thing already exists or changed)",
    );
    expect(message(toy("Denied", 403))).toBe(
      "write toy://box/a/b.txt: access denied (Denied); check the toy key",
    );
    expect(message(toy("Weird", 400))).toBe("write toy://box/a/b.txt: Weird (HTTP 400): Weird happened");
    expect(message({ name: "Weird", message: "Weird" })).toBe("write toy://box/a/b.txt: Weird");
    expect(message({ message: "no region" })).toBe("write toy://box/a/b.txt: set a region");
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), {
      code: "ECONNREFUSED",
      address: "127.0.0.1",
      port: 9,
    });
    expect(message(refused)).toBe(
      "write toy://box/a/b.txt: connection refused by 127.0.0.1:9 (nothing listening there); check TOY_ENDPOINT",
    );
    expect(mapToyError(refused, context).code).toBe("Transient");
  });
});

describe("the error-mapping kit: what the error carries", () => {
  const context = { operation: "write", root: "box", path: "a/b.txt" };

  it("keeps secrets out of the message and the cause, and the SDK's request off the cause", () => {
    const leaky = toy("Weird", 400, {
      message: "bad request with toy-secret-value for https://box.example/a?sv=1&sig=abcdef0123456789",
      request: { headers: { authorization: "Toy toy-secret-value" } },
    });
    const mapped = mapToyError(leaky, { ...context, secrets: ["toy-secret-value"] });
    const everything = `${mapped.message}\n${inspect(mapped, { depth: 10 })}\n${JSON.stringify(mapped)}`;
    expect(everything).not.toMatch(/toy-secret-value|abcdef0123456789/);
    const cause = mapped.cause as Error & Record<string, unknown>;
    expect(cause.name).toBe("Weird");
    expect(cause.statusCode).toBe(400);
    expect(cause.requestId).toBe("req-1");
    expect(cause.request).toBeUndefined();
    expect(mapped.system).toBe("toy");
    expect(mapped.path).toBe("a/b.txt");
  });

  it("marks Integrity retryable, passes FerryErrors through and reports stalls as stalls", () => {
    expect(mapToyError(toy("BadSum", 400), context).retryable).toBe(true);
    expect(mapToyError(toy("NoSuchThing", 404), context).retryable).toBe(false);
    const own = new FerryError("NotFound", "already mapped");
    expect(mapToyError(own, context)).toBe(own);
    const stalled = mapToyError(stallError("box.example", 5000, { system: "toy" }), context);
    expect(stalled.code).toBe("Transient");
    expect(stalled.message).toMatch(/^no data from box.example for 5 s while writing toy:\/\/box\/a\/b.txt$/);
  });

  it("maps what is not an object", () => {
    const mapped = mapToyError("plain words", context);
    expect(mapped.code).toBe("Unexpected");
    expect(mapped.message).toBe("write toy://box/a/b.txt: Error: plain words");
  });
});
