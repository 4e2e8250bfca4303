import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalDriver, local, localCapabilities, PluginRegistry, ResourceRegistry } from "../../src/index.ts";
import { runTogether } from "../registry-children.ts";
import { useProjects } from "../registry-fixtures.ts";

const { project } = useProjects();

// A plugin serving `nocas://<root>/...` from a local directory with conditional writes withheld, so
// the registry must use its claim protocol instead of create-only writes.
const NO_CONDITIONAL_PLUGIN = `
const { LocalDriver, localCapabilities, PluginRegistry, local } = core;
class NoConditionalDriver extends LocalDriver { capabilities = { ...localCapabilities, conditionalWrite: false }; system = "nocas"; }
const plugins = new PluginRegistry({ lazy: false });
plugins.use(local(), { name: "nocas", schemes: ["nocas"], capabilities: { ...localCapabilities, conditionalWrite: false },
  create: () => new NoConditionalDriver(process.env.NOCAS_DIR) });
`;

const SAVER = `
const registry = new core.ResourceRegistry({ cwd: process.env.PROJECT, shared: process.env.SHARED, plugins: typeof plugins === "undefined" ? undefined : plugins });
const resource = (i) => ({ registryDescription: () => ({ type: "blob", location: core.parseLocation("s3://race-bucket/" + process.env.WHO + "/" + i) }) });
// Warm up (module loading, first storage use) before the start signal, so both race from the first save.
await registry.save(resource(0), { name: process.env.NAME + "-warmup-" + process.env.WHO });
const versions = [];
// Neither process gets more than LEAD saves ahead of the other (each records its count in a file), so
// the saves interleave even when the machine gives one process the CPU for a while; within that window
// they race freely.
const { readFile, writeFile } = await import("node:fs/promises");
const progress = (who) => process.env.PROJECT + "/progress-" + who;
const other = process.env.WHO === "a" ? "b" : "a";
const LEAD = 8;
const SAVES = Number(process.env.SAVES);
await ready();
for (let i = 0; i < SAVES; i++) {
  versions.push((await registry.save(resource(i), { name: process.env.NAME, metadata: { who: process.env.WHO, i } })).version);
  await writeFile(progress(process.env.WHO), String(i + 1));
  for (;;) {
    const theirs = Number(await readFile(progress(other), "utf8").catch(() => "0")) || 0;
    if (i + 1 - theirs <= LEAD || theirs >= SAVES) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
console.log(JSON.stringify(versions));
`;

describe("two processes saving the same name at once", () => {
  // Enough saves that the two processes overlap for a while even when one starts a little later.
  const SAVES = 120;

  async function race(env: Record<string, string>, prelude = ""): Promise<number[][]> {
    const outputs = await runTogether(
      ["a", "b"].map((who) => ({ body: prelude + SAVER, env: { ...env, WHO: who, SAVES: String(SAVES) } })),
    );
    return outputs.map((output) => JSON.parse(output.trim()) as number[]);
  }

  async function checkNoLostUpdate(
    registry: ResourceRegistry,
    name: string,
    perProcess: number[][],
  ): Promise<void> {
    const all = perProcess.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: SAVES * 2 }, (_, index) => index + 1));
    const history = await registry.history(name);
    expect(history.map((entry) => entry.version)).toEqual(all);
    for (const who of ["a", "b"]) {
      const mine = history.filter((entry) => entry.metadata.who === who).map((entry) => entry.metadata.i);
      expect(mine).toEqual(Array.from({ length: SAVES }, (_, index) => index));
    }
    for (const entry of history)
      expect(entry.url).toBe(`s3://race-bucket/${entry.metadata.who}/${entry.metadata.i}`);
    // The saves really did interleave (otherwise this test would prove nothing).
    const writers = history.map((entry) => entry.metadata.who).join("");
    expect(writers).toMatch(/ab.*ba|ba.*ab/);
  }

  it("on storage with conditional writes: every version is kept, none corrupt", async () => {
    const cwd = await project();
    const perProcess = await race({ PROJECT: cwd, NAME: "~/contested" });
    await checkNoLostUpdate(new ResourceRegistry({ cwd }), "~/contested", perProcess);
  });

  it("on storage without conditional writes: the claim protocol keeps every version", async () => {
    const cwd = await project();
    const dir = join(cwd, "nocas-root");
    await mkdir(dir);
    const perProcess = await race(
      { PROJECT: cwd, SHARED: "nocas://team/registry", NOCAS_DIR: dir, NAME: "@/contested" },
      NO_CONDITIONAL_PLUGIN,
    );
    const plugins = new PluginRegistry({ lazy: false });
    plugins.use(local(), {
      name: "nocas",
      schemes: ["nocas"],
      capabilities: { ...localCapabilities, conditionalWrite: false },
      create: () =>
        Object.assign(new LocalDriver(dir), {
          capabilities: { ...localCapabilities, conditionalWrite: false },
        }),
    });
    await checkNoLostUpdate(
      new ResourceRegistry({ cwd, shared: "nocas://team/registry", plugins }),
      "@/contested",
      perProcess,
    );
    // Every claim was withdrawn or removed after its version was written.
    const claims = await readdir(join(dir, "registry/contested/_claims"), {
      recursive: true,
      withFileTypes: true,
    }).catch(() => []);
    expect(claims.filter((entry) => entry.isFile())).toEqual([]);
  });
});
