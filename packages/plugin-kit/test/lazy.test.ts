import { describe, expect, it } from "vitest";
import { contentTypeOf } from "../src/content-type.ts";
import { FerryError, lazyImport } from "../src/index.ts";

describe("lazyImport", () => {
  it("loads once, on first use", async () => {
    let loads = 0;
    const load = lazyImport(async () => ({ n: ++loads }), "some-sdk");
    expect(loads).toBe(0);
    const [a, b] = await Promise.all([load(), load()]);
    expect(a).toBe(b);
    expect(loads).toBe(1);
  });

  it("tries again after a failed load", async () => {
    let loads = 0;
    const load = lazyImport(async () => {
      if (++loads === 1) throw new Error("flaky disk");
      return "sdk";
    }, "some-sdk");
    await expect(load()).rejects.toThrow("flaky disk");
    expect(await load()).toBe("sdk");
  });

  it("names the package that is not installed, as PluginMissing", async () => {
    const missing = "ferry-no-such-sdk-package";
    const load = lazyImport(() => import(missing), missing);
    const error = await load().catch((e: unknown) => e);
    expect(FerryError.isInstance(error, "PluginMissing")).toBe(true);
    expect((error as FerryError).message).toBe(
      "ferry-no-such-sdk-package is not installed (pnpm add ferry-no-such-sdk-package)",
    );
  });
});

describe("contentTypeOf", () => {
  it("guesses from the extension, and says nothing for none", () => {
    expect(contentTypeOf("runs/2024/report.csv")).toBe("text/csv");
    expect(contentTypeOf("model.parquet")).toBeUndefined();
    expect(contentTypeOf("README")).toBeUndefined();
  });
});
