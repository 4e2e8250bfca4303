import { describe, expect, it } from "vitest";
import { errorCodeForStatus, isNetworkError, redactSecrets } from "../src/index.ts";

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
