import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { baseCapabilities, FerryError, type StorageDriver, type StoragePlugin } from "@ferry/plugin-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PluginRegistry } from "../../src/index.ts";

const CORE_ENTRY = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

async function expectCode(promise: Promise<unknown>, code: string): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    expect(FerryError.isInstance(error)).toBe(true);
    expect((error as FerryError).code).toBe(code);
    return error as FerryError;
  }
  throw new Error(`expected a ${code} error`);
}

/** A third-party plugin as an author would publish it: an ESM package whose default export is a factory. */
const THIRD_PARTY_PLUGIN = `
const capabilities = {
  version: 1, write: false, conditionalWrite: false, rangeRead: false, copy: false, move: false, mkdir: false,
  emptyDirectories: false, directories: "virtual", hashes: [], checksum: false, exec: false, presign: false,
  listOrder: "lexicographic", listRecursive: "native", mtime: "none", mtimePrecisionMs: 1000, setMtime: false,
  contentType: false, caseInsensitive: false, limits: {},
};
export default function constant(options = {}) {
  return {
    name: "constant",
    schemes: ["const"],
    capabilities,
    create(location) {
      const text = options.text ?? "hello from " + location.root;
      return {
        system: "const", root: "const://" + location.root, capabilities,
        async stat(path) { return { path, kind: "file", size: text.length }; },
        async *list() {},
        async read() { const { Readable } = await import("node:stream"); return Readable.from([Buffer.from(text)]); },
        async write() { throw new Error("read-only"); },
        async delete() {},
        async close() { globalThis.__ferryConstantClosed = (globalThis.__ferryConstantClosed ?? 0) + 1; },
      };
    },
  };
}
`;

describe("plugin registry", () => {
  let project: string;
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), "ferry-project-"));
    const pkg = join(project, "node_modules", "ferry-storage-constant");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, "package.json"),
      JSON.stringify({
        name: "ferry-storage-constant",
        type: "module",
        exports: { ".": { import: "./index.js" } },
      }),
    );
    writeFileSync(join(pkg, "index.js"), THIRD_PARTY_PLUGIN);
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("a first-party scheme whose package is not installed raises PluginMissing naming the package", () => {
    // In a plain Node process, as a user's program runs: vitest's own resolver would find workspace packages.
    const script = `
      import { PluginRegistry } from ${JSON.stringify(CORE_ENTRY)};
      const registry = new PluginRegistry({ cwd: ${JSON.stringify(project)}, searchPaths: [${JSON.stringify(project)}] });
      try { await registry.resolve("gs://some-bucket/x"); console.log("resolved"); }
      catch (error) { console.log(JSON.stringify(error.toJSON ? error.toJSON() : { message: String(error) })); }
    `;
    // pnpm's script shims export NODE_PATH, which would let Node find the workspace's packages.
    const { NODE_PATH: _, ...env } = process.env;
    const run = spawnSync(
      process.execPath,
      ["--conditions=@ferry/source", "--input-type=module", "-e", script],
      {
        cwd: project,
        encoding: "utf8",
        env,
      },
    );
    expect(run.stderr).toBe("");
    const error = JSON.parse(run.stdout) as { code: string; message: string; packageName: string };
    expect(error, run.stdout).toHaveProperty("code");
    expect(error.code).toBe("PluginMissing");
    expect(error.message).toContain("@ferry/storage-gcs");
    expect(error.packageName).toBe("@ferry/storage-gcs");
  });

  it("a plain Node program loads an ESM-only third-party plugin listed in ferry.config.json", () => {
    writeFileSync(
      join(project, "ferry.config.json"),
      JSON.stringify({ plugins: ["ferry-storage-constant"] }),
    );
    try {
      const script = `
        import { PluginRegistry } from ${JSON.stringify(CORE_ENTRY)};
        const registry = new PluginRegistry({ cwd: ${JSON.stringify(project)}, searchPaths: [${JSON.stringify(project)}] });
        const { storage, path } = await registry.resolve("const://greeting/file.txt");
        console.log(new TextDecoder().decode(await storage.readBytes(path)));
      `;
      const { NODE_PATH: _, ...env } = process.env;
      const run = spawnSync(
        process.execPath,
        ["--conditions=@ferry/source", "--input-type=module", "-e", script],
        {
          cwd: project,
          encoding: "utf8",
          env,
        },
      );
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("hello from greeting");
    } finally {
      rmSync(join(project, "ferry.config.json"));
    }
  });

  it("an unknown scheme raises PluginMissing saying how to register one", async () => {
    const registry = new PluginRegistry({ cwd: project, searchPaths: [project] });
    const error = await expectCode(registry.resolve("const://anything/x"), "PluginMissing");
    expect(error.message).toMatch(/ferry\.use|ferry\.config\.json/);
  });

  it("loads a third-party package listed in ferry.config.json, lazily, by scheme", async () => {
    writeFileSync(
      join(project, "ferry.config.json"),
      JSON.stringify({ plugins: ["ferry-storage-constant"] }),
    );
    try {
      const registry = new PluginRegistry({ cwd: project, searchPaths: [project] });
      const { storage, path } = await registry.resolve("const://greeting/file.txt");
      expect(path).toBe("file.txt");
      expect(new TextDecoder().decode(await storage.readBytes(path))).toBe("hello from greeting");
      // A storage created while its plugin was being loaded lazily is still closed by close().
      const closedBefore = (globalThis as { __ferryConstantClosed?: number }).__ferryConstantClosed ?? 0;
      await registry.close();
      expect((globalThis as { __ferryConstantClosed?: number }).__ferryConstantClosed).toBe(closedBefore + 1);
      // Declared read-only: core refuses writes with Unsupported, the driver is never called.
      await expectCode(storage.write("x", "data"), "Unsupported");
      await expectCode(storage.copy("a", "b"), "Unsupported");
    } finally {
      rmSync(join(project, "ferry.config.json"));
    }
  });

  it("a listed package that is not installed is a PluginMissing naming it", async () => {
    writeFileSync(join(project, "ferry.config.json"), JSON.stringify({ plugins: ["ferry-storage-nowhere"] }));
    try {
      const registry = new PluginRegistry({ cwd: project, searchPaths: [project] });
      const error = await expectCode(registry.resolve("nowhere://x/y"), "PluginMissing");
      expect(error.message).toContain("ferry-storage-nowhere");
    } finally {
      rmSync(join(project, "ferry.config.json"));
    }
  });

  it("a malformed plugin list is InvalidInput", async () => {
    writeFileSync(join(project, "ferry.config.json"), JSON.stringify({ plugins: "not-a-list" }));
    try {
      await expectCode(
        new PluginRegistry({ cwd: project, searchPaths: [project] }).resolve("nowhere://x/y"),
        "InvalidInput",
      );
    } finally {
      rmSync(join(project, "ferry.config.json"));
    }
  });

  it("explicit use() wins, storages are cached per root, and close() closes them", async () => {
    let created = 0;
    let closed = 0;
    const plugin: StoragePlugin = {
      name: "counting",
      schemes: ["counting"],
      capabilities: baseCapabilities,
      create(location) {
        created += 1;
        const driver: StorageDriver = {
          system: "counting",
          root: location.root,
          capabilities: { ...baseCapabilities, write: false },
          stat: async (path) => ({ path, kind: "directory", size: 0 }),
          async *list() {},
          read: async () => {
            throw new Error("unused");
          },
          write: async () => {
            throw new Error("unused");
          },
          delete: async () => {},
          close: async () => {
            closed += 1;
          },
        };
        return driver;
      },
    };
    const registry = new PluginRegistry({ cwd: project, lazy: false });
    registry.use(plugin);
    const a = await registry.resolve("counting://one/a");
    const b = await registry.resolve("counting://one/b");
    await registry.resolve("counting://two/c");
    expect(a.storage).toBe(b.storage);
    expect(created).toBe(2);
    await registry.close();
    expect(closed).toBe(2);
  });

  it("use() refuses things that are not plugins", () => {
    expect(() => new PluginRegistry().use({} as StoragePlugin)).toThrow(/storage plugins/);
  });
});
