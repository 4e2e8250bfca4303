import { describe, expect, it } from "vitest";
import { ERROR_CODES, errors, FerryError, throwIfAborted, toFerryError } from "../src/index.ts";

describe("FerryError", () => {
  it("carries code, system, path, retryable and cause", () => {
    const cause = new Error("socket hang up");
    const error = errors.transient("upload interrupted", { system: "s3", path: "a/b", cause });
    expect(error.code).toBe("Transient");
    expect(error.retryable).toBe(true);
    expect(error.system).toBe("s3");
    expect(error.path).toBe("a/b");
    expect(error.cause).toBe(cause);
    expect(errors.notFound("x").retryable).toBe(false);
    expect(error.toJSON()).toMatchObject({ code: "Transient", system: "s3", path: "a/b", retryable: true });
  });

  it("isInstance recognises errors from another copy of core by their marker, and filters by code", () => {
    const foreign = Object.assign(new Error("x"), { code: "NotFound", [Symbol.for("ferry.error")]: true });
    expect(FerryError.isInstance(foreign)).toBe(true);
    expect(FerryError.isInstance(foreign, "NotFound")).toBe(true);
    expect(FerryError.isInstance(foreign, "Aborted")).toBe(false);
    expect(FerryError.isInstance(new Error("plain"))).toBe(false);
    expect(FerryError.isInstance(null)).toBe(false);
  });

  it("has the closed set of codes from the design", () => {
    expect([...ERROR_CODES].sort()).toEqual(
      [
        "Aborted",
        "AlreadyExists",
        "ConditionNotMet",
        "Integrity",
        "InvalidInput",
        "NotFound",
        "PermissionDenied",
        "PluginMissing",
        "Transient",
        "Unexpected",
        "Unsupported",
      ].sort(),
    );
  });

  it("toFerryError keeps FerryErrors and maps AbortError to Aborted", () => {
    const original = errors.conditionNotMet("exists");
    expect(toFerryError(original)).toBe(original);
    const abort = Object.assign(new Error("The operation was aborted"), { name: "AbortError" });
    expect(toFerryError(abort, { path: "p" }).code).toBe("Aborted");
    expect(toFerryError("boom").code).toBe("Unexpected");
  });

  it("throwIfAborted raises Aborted with the signal's reason as cause", () => {
    const controller = new AbortController();
    throwIfAborted(controller.signal);
    controller.abort(new Error("user pressed ctrl-c"));
    try {
      throwIfAborted(controller.signal, { path: "big.bin" });
      throw new Error("did not throw");
    } catch (error) {
      expect(FerryError.isInstance(error, "Aborted")).toBe(true);
      expect((error as Error).message).toContain("big.bin");
    }
  });
});
