/**
 * tarballProblems finds each kind of packaging mistake in an unpacked tarball, and none in a sound one
 * (the packed-install test relies on it to say what is wrong with a published package).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tarballProblems } from "../src/tarball-check.ts";

const MACHINE = "/home/builder/checkout";

/** A package that is sound: every check passes on it. */
function soundPackage(): Record<string, string> {
  return {
    "package.json": JSON.stringify({
      name: "@ferry/sample",
      version: "0.1.0",
      type: "module",
      exports: { ".": { types: "./dist/index.d.ts", import: "./dist/index.js" } },
      files: ["dist", "src", "README.md", "CHANGELOG.md"],
      dependencies: { "p-limit": "7.3.3", "@ferry/plugin-kit": "0.1.0" },
      peerDependencies: { "@ferry/core": "^0.1.0" },
      devDependencies: { hyparquet: "1.31.5" },
    }),
    "README.md": "# @ferry/sample\n",
    "src/index.ts": "export const x = 1;\n",
    "dist/index.js":
      'import pLimit from "p-limit";\nimport { join } from "node:path";\nimport "./helper.js";\nexport const x = [pLimit, join];\n//# sourceMappingURL=index.js.map\n',
    "dist/helper.js": 'export const y = await import("@ferry/core");\n',
    "dist/index.d.ts": "export declare const x: unknown;\n",
    "dist/index.js.map": JSON.stringify({ version: 3, sources: ["../src/index.ts"], mappings: "" }),
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function problemsOf(files: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "ferry-tarball-check-"));
  dirs.push(dir);
  const unpacked = join(dir, "package");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(unpacked, path)), { recursive: true });
    writeFileSync(join(unpacked, path), text);
  }
  const published = new Map([
    ["@ferry/sample", "0.1.0"],
    ["@ferry/core", "0.1.0"],
    ["@ferry/plugin-kit", "0.1.0"],
  ]);
  return tarballProblems(unpacked, { published, machinePaths: [MACHINE] });
}

function edit(change: (manifest: Record<string, unknown>) => void): Record<string, string> {
  const files = soundPackage();
  const manifest = JSON.parse(files["package.json"]!);
  change(manifest);
  return { ...files, "package.json": JSON.stringify(manifest) };
}

describe("tarballProblems", () => {
  it("finds nothing wrong with a sound package", async () => {
    expect(await problemsOf(soundPackage())).toEqual([]);
  });

  it("names each mistake with the package", async () => {
    const { "README.md": _readme, ...withoutReadme } = soundPackage();
    expect(await problemsOf(withoutReadme)).toEqual([
      "@ferry/sample: no README in the tarball",
      '@ferry/sample: "files" names README.md, which is not in the tarball',
    ]);
    expect(await problemsOf({ ...soundPackage(), "dist/test/a.test.js": "" })).toEqual([
      "@ferry/sample: ships a test file: dist/test/a.test.js",
    ]);
    expect(await problemsOf({ ...soundPackage(), "notes.txt": "" })).toEqual([
      '@ferry/sample: ships notes.txt, which the package.json "files" list does not name',
    ]);
    expect(
      await problemsOf({ ...soundPackage(), "dist/where.js": `export const at = "${MACHINE}/x";\n` }),
    ).toEqual([`@ferry/sample: dist/where.js contains the build machine's path ${MACHINE}`]);
    // The same letters inside a URL or a longer path are not the machine's path: `s3://home/builder/checkout`.
    expect(
      await problemsOf({
        ...soundPackage(),
        "dist/where.js": `export const url = "s3:/${MACHINE}/x", deeper = "/opt${MACHINE}";\n`,
      }),
    ).toEqual([]);
    expect(
      await problemsOf({
        ...soundPackage(),
        "dist/index.js.map": JSON.stringify({
          version: 3,
          sources: ["../../elsewhere/index.ts"],
          mappings: "",
        }),
      }),
    ).toEqual([
      "@ferry/sample: dist/index.js.map points at ../../elsewhere/index.ts, which is not in the tarball",
    ]);
  });

  it("checks exports, the files list and dependency ranges against what was published", async () => {
    expect(
      await problemsOf(edit((m) => Object.assign(m, { exports: { ".": { import: "./dist/main.js" } } }))),
    ).toEqual(["@ferry/sample: ./dist/main.js (named in package.json) is not in the tarball"]);
    expect(
      await problemsOf(edit((m) => Object.assign(m, { files: ["dist", "src", "README.md", "schema"] }))),
    ).toEqual(['@ferry/sample: "files" names schema, which is not in the tarball']);
    expect(
      await problemsOf(edit((m) => Object.assign(m, { peerDependencies: { "@ferry/core": "workspace:^" } }))),
    ).toEqual(['@ferry/sample: peerDependencies @ferry/core is "workspace:^", not a version']);
    expect(
      await problemsOf(edit((m) => Object.assign(m, { peerDependencies: { "@ferry/core": "^0.2.0" } }))),
    ).toEqual([
      '@ferry/sample: peerDependencies @ferry/core is "^0.2.0", which does not take the 0.1.0 published with it',
    ]);
  });

  it("finds dist/ importing a devDependency or an undeclared package, and a relative import with no file", async () => {
    expect(
      await problemsOf(edit((m) => Object.assign(m, { dependencies: { "@ferry/plugin-kit": "0.1.0" } }))),
    ).toEqual([
      "@ferry/sample: dist/index.js imports p-limit, which is not in dependencies, peerDependencies or optionalDependencies",
    ]);
    expect(
      await problemsOf({ ...soundPackage(), "dist/helper.js": 'export { y } from "./gone.js";\n' }),
    ).toEqual([
      expect.stringMatching(/^@ferry\/sample: .*dist\/helper\.js: Could not resolve "\.\/gone\.js"/),
    ]);
  });
});
