/**
 * `ferry cp` reads each location once, and a third-party system's grammar is its plugin's own: a
 * plugin listed in the project's ferry.config.json logs every read of its `location` hook.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTemp, removeTemp, runFerry, writeFiles } from "../run-ferry.ts";

const CORE_ENTRY = fileURLToPath(new URL("../../../core/src/index.ts", import.meta.url));
const KIT_ENTRY = fileURLToPath(new URL("../../../plugin-kit/src/index.ts", import.meta.url));

/** `shelf://<box>/<key>`: a box is a lower-case word, a directory under SHELF_ROOT. */
const PLUGIN = `
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { LocalDriver, localCapabilities } from ${JSON.stringify(pathToFileURL(CORE_ENTRY).href)};
import { errors, normalizeKey } from ${JSON.stringify(pathToFileURL(KIT_ENTRY).href)};
export default function shelf() {
  return {
    name: "shelf",
    schemes: ["shelf"],
    capabilities: localCapabilities,
    location: {
      parse(generic) {
        appendFileSync(process.env.SHELF_LOG, generic.input + "\\n");
        const { authority: box, rest } = generic;
        if (!/^[a-z]+$/.test(box)) throw errors.invalidInput("invalid box name \\"" + box + "\\": lower-case letters only");
        const path = normalizeKey(rest, { allowRoot: true, system: "shelf" });
        return { system: "shelf", root: box, path, url: "shelf://" + box + "/" + path };
      },
    },
    create(location) {
      const dir = join(process.env.SHELF_ROOT, location.root);
      mkdirSync(dir, { recursive: true });
      return new LocalDriver(dir);
    },
  };
}
`;

let work: string;
let env: Record<string, string>;
const reads = () =>
  existsSync(env.SHELF_LOG!) ? readFileSync(env.SHELF_LOG!, "utf8").trim().split("\n") : [];

beforeEach(async () => {
  work = await makeTemp("location-once");
  await writeFiles(work, {
    "src/a.txt": "alpha",
    "src/sub/c.txt": "charlie",
    "ferry.config.json": JSON.stringify({ plugins: ["ferry-storage-shelf"] }),
    "node_modules/ferry-storage-shelf/package.json": JSON.stringify({
      name: "ferry-storage-shelf",
      type: "module",
      exports: "./index.js",
    }),
    "node_modules/ferry-storage-shelf/index.js": PLUGIN,
  });
  env = { SHELF_LOG: join(work, "reads.log"), SHELF_ROOT: join(work, "boxes") };
});

afterEach(() => removeTemp(work));

describe("ferry cp reads a location once, through its plugin's grammar", () => {
  it("copies a tree to a third-party system with one read of the destination", async () => {
    const run = await runFerry(["cp", "src", "shelf://box/dst/"], { cwd: work, env });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(reads()).toEqual(["shelf://box/dst/"]);
    expect(readFileSync(join(work, "boxes", "box", "dst", "sub", "c.txt"), "utf8")).toBe("charlie");
  });

  it("copies back from it with one read of the source", async () => {
    await writeFiles(work, { "boxes/box/kept/b.txt": "bravo" });
    const run = await runFerry(["cp", "shelf://box/kept", "back"], { cwd: work, env });
    expect(run.code).toBe(0);
    expect(reads()).toEqual(["shelf://box/kept"]);
    expect(readFileSync(join(work, "back", "b.txt"), "utf8")).toBe("bravo");
  });

  it("a name the plugin refuses is its one-line InvalidInput, and nothing is written", async () => {
    const run = await runFerry(["cp", "src", "shelf://Bad_Box/x"], { cwd: work, env });
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain('invalid box name "Bad_Box": lower-case letters only');
    expect(existsSync(join(work, "boxes"))).toBe(false);
  });
});
