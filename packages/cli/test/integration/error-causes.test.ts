/**
 * Errors name the real cause, in one line, with the variable or option that fixes it: a missing AWS
 * profile is not "no region", missing credentials are not "access denied", a host that does not
 * resolve is not "failed (500)", and GCS without credentials says so at once instead of probing the
 * metadata server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTemp, removeTemp, runFerry } from "../run-ferry.ts";

let home: string;

beforeAll(async () => {
  home = await makeTemp("causes-home");
});

afterAll(() => removeTemp(home));

/** Nothing configured: a user who never set any of these. */
const UNSET = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_S3",
  "AWS_CONFIG_FILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "GOOGLE_APPLICATION_CREDENTIALS",
  "STORAGE_EMULATOR_HOST",
  "GITHUB_TOKEN",
  "GH_TOKEN",
  "GITHUB_API_URL",
];

/** The environment of a user with nothing configured (an empty home, no credentials anywhere). */
function bare(extra: Record<string, string>): Record<string, string> {
  return { HOME: home, AWS_EC2_METADATA_DISABLED: "true", ...extra };
}

/** Runs a failing command; returns its one stderr line. */
async function failure(args: string[], env: Record<string, string>): Promise<string> {
  const run = await runFerry(args, { env, unset: UNSET.filter((name) => !(name in env)) });
  expect(run.code, run.stderr).not.toBe(0);
  const lines = run.stderr.trim().split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  return lines[0]!;
}

describe("errors name the real cause", () => {
  it("AWS_PROFILE naming a profile that does not exist", async () => {
    const line = await failure(["ls", "s3://some-bucket/x"], bare({ AWS_PROFILE: "nope" }));
    expect(line).toMatch(/AWS profile "nope".*not found/);
    expect(line).toContain("AWS_PROFILE");
    expect(line).not.toMatch(/region/i);
  });

  it("no AWS credentials anywhere", async () => {
    const line = await failure(["ls", "s3://some-bucket/x"], bare({ AWS_REGION: "us-east-1" }));
    expect(line).toMatch(/no AWS credentials/);
    expect(line).toContain("AWS_ACCESS_KEY_ID");
    expect(line).not.toMatch(/access denied/i);
  });

  it("an S3 endpoint whose host does not resolve", async () => {
    const line = await failure(
      ["ls", "s3://some-bucket/x"],
      bare({
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "a",
        AWS_SECRET_ACCESS_KEY: "b",
        AWS_ENDPOINT_URL: "http://nonexistent.invalid:9000",
      }),
    );
    expect(line).toMatch(/nonexistent\.invalid.*does not resolve/);
    expect(line).toContain("AWS_ENDPOINT_URL");
    expect(line).toContain("s3://some-bucket/x");
  });

  it("a GitHub API URL whose host does not resolve", async () => {
    const line = await failure(
      ["ls", "github://owner/repo@main/x"],
      bare({ GITHUB_API_URL: "http://nonexistent.invalid" }),
    );
    expect(line).toMatch(/nonexistent\.invalid.*does not resolve/);
    expect(line).toContain("GITHUB_API_URL");
    expect(line).not.toContain("(500)");
  });

  it("GCS with no credentials says so at once, without metadata-server warnings", async () => {
    const run = await runFerry(["ls", "gs://some-bucket/x"], { env: bare({}), unset: UNSET });
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n"), run.stderr).toHaveLength(1);
    expect(run.stderr).toMatch(/no Google Cloud credentials/);
    expect(run.stderr).toContain("GOOGLE_APPLICATION_CREDENTIALS");
  });
});
