import { inspect } from "node:util";
import { errors, FerryError, redactSecrets, registerSecret } from "@ferry/plugin-kit";
import { afterEach, describe, expect, it } from "vitest";
import { parseLocation } from "../src/index.ts";

const SECRET = "ferryRedactSecret/0001+Zq@x";

function refusal(input: string): FerryError {
  try {
    parseLocation(input);
  } catch (error) {
    if (FerryError.isInstance(error)) return error;
    throw error;
  }
  throw new Error(`accepted ${input}`);
}

describe("one redaction for every location and message", () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it("takes the whole user-info out of a URL, even when the password holds / or @", () => {
    for (const url of [
      "s3://AKIAFERRYREDACT00001:sec/ret@bucket/x",
      "az://acct:key/x@container",
      "sftp://root:pa/ss@host/x",
      "sftp://root:pa@ss@host/x",
      "https://user:hunter2pass@example.com/x",
    ]) {
      const error = refusal(url);
      expect(error.code).toBe("InvalidInput");
      for (const text of [error.message, String(error.path), JSON.stringify(error), inspect(error)]) {
        expect(text).not.toMatch(/sec\/ret|AKIAFERRY|:key|pa\/ss|pa@ss|hunter2/);
      }
      expect(error.message).toMatch(/(credentials|passwords) are never taken from a URL/);
    }
  });

  it("keeps what is not a secret: user names, refs, keys with @", () => {
    for (const text of ["sftp://alice@host/x", "github://owner/repo@main/a", "s3://bucket/a@b/c"]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  it("redacts signed-URL parameters, connection strings, headers and tokens", () => {
    const text = [
      "https://acct.blob.core.windows.net/c/x?sv=2022&sig=abc%2Bdef&se=2030",
      "https://s3.example/b/k?X-Amz-Credential=AKID%2F2024&X-Amz-Signature=0a1b&X-Amz-Security-Token=tok",
      "https://storage.googleapis.com/b/o?X-Goog-Credential=sa%40p&X-Goog-Signature=ff00",
      "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5==;",
      "Authorization: SharedKey acct:c2lnbmF0dXJl",
      "Authorization: Bearer ya29.tokenvalue",
      "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ].join("\n");
    const out = redactSecrets(text);
    for (const secret of [
      "abc%2Bdef",
      "AKID",
      "0a1b",
      "=tok",
      "sa%40p",
      "ff00",
      "c2VjcmV0a2V5",
      "c2lnbmF0dXJl",
    ])
      expect(out).not.toContain(secret);
    expect(out).not.toContain("ya29.tokenvalue");
    expect(out).not.toContain("ghp_abc");
    expect(out).toContain("sv=2022");
    expect(out).toContain("se=2030");
  });

  it("redacts credential values from the environment and registered options, raw and URL-encoded", () => {
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    registerSecret("ferryRegisteredOption0002");
    const error = errors.transient(`failed with ${SECRET} and ${encodeURIComponent(SECRET)}`, {
      path: "ferryRegisteredOption0002",
    });
    const text = `${error.message} ${error.path} ${error.stack} ${JSON.stringify(error)} ${inspect(error)}`;
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(encodeURIComponent(SECRET));
    expect(text).not.toContain("ferryRegisteredOption0002");
  });

  it("redacts the whole cause chain in place, keeping the causes themselves", () => {
    const root = Object.assign(new Error("GET https://h/c/x?sig=rootSecretSig0003 failed"), { code: "E_X" });
    const middle = new Error("request to https://u:middlePass0004@h/ failed", { cause: root });
    const error = errors.unexpected("copy failed", { cause: middle });
    expect(error.cause).toBe(middle);
    expect(middle.cause).toBe(root);
    expect((root as { code?: string }).code).toBe("E_X");
    const text = `${inspect(error, { depth: 10 })} ${JSON.stringify(error)} ${root.stack} ${middle.stack}`;
    expect(text).not.toContain("rootSecretSig0003");
    expect(text).not.toContain("middlePass0004");
  });
});
