/**
 * With only an account named, DefaultAzureCredential is loaded on first use; when no credential in its
 * chain works, the error says so. (Bearer tokens need TLS, so the endpoint is https: the token is asked
 * for, and refused, before any connection would be made.)
 */

import { createStorage, parseLocation } from "@ferry/core";
import { FerryError } from "@ferry/plugin-kit";
import { expect, it } from "vitest";
import { azure } from "../src/index.ts";

it("reports a DefaultAzureCredential chain with nothing configured as PermissionDenied", async () => {
  const saved = { ...process.env };
  for (const key of Object.keys(process.env)) if (key.startsWith("AZURE_")) delete process.env[key];
  const storage = createStorage(
    await azure({ account: "devstoreaccount1", blobEndpoint: "https://127.0.0.1:9/devstoreaccount1" }).create(
      parseLocation("az://no-such-container"),
    ),
  );
  const error = await storage.stat("x").catch((caught: unknown) => caught);
  Object.assign(process.env, saved);
  expect(FerryError.isInstance(error), String(error)).toBe(true);
  expect(
    (error as FerryError).code,
    `${(error as Error).message} / ${((error as Error).cause as Error)?.name}`,
  ).toBe("PermissionDenied");
});
