/** Malformed plugin options are refused with InvalidInput naming the option, before any request is sent. */
import { parseLocation } from "@ferry/core";
import { afterEach, describe, expect, it } from "vitest";
import { github } from "../src/index.ts";

describe("github options", () => {
  const saved = process.env.GITHUB_API_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.GITHUB_API_URL;
    else process.env.GITHUB_API_URL = saved;
  });

  it.each([
    [
      { baseUrl: "api.github.example.com" },
      'github(): baseUrl must be an http(s) URL, got "api.github.example.com"',
    ],
    [
      { baseUrl: "ftp://github.example.com" },
      'github(): baseUrl must be an http(s) URL, got "ftp://github.example.com"',
    ],
    [
      { treeCacheTtl: -1 },
      "github(): treeCacheTtl must be a whole number of milliseconds (0 or more), got -1",
    ],
    [
      { treeCacheTtl: "5s" as unknown as number },
      'github(): treeCacheTtl must be a whole number of milliseconds (0 or more), got "5s"',
    ],
  ])("github(%j) is InvalidInput naming the option", (options, message) => {
    expect(() => github(options)).toThrowError(expect.objectContaining({ code: "InvalidInput", message }));
  });

  it("a malformed GITHUB_API_URL is InvalidInput naming the variable, on the first request", async () => {
    process.env.GITHUB_API_URL = "github.example.com/api/v3";
    const driver = await github({ token: "t" }).create(parseLocation("github://octo/repo@main"));
    await expect(driver.stat("README.md")).rejects.toMatchObject({
      code: "InvalidInput",
      message: 'GITHUB_API_URL must be an http(s) URL, got "github.example.com/api/v3"',
    });
  });
});
