/**
 * The resource registry walkthrough, on local storage: nothing to install or start.
 *
 *   node examples/registry.ts
 *
 * Save a Folder, a Table and a Blob by name, load them back as the right class, keep a history,
 * share a name through a "shared" registry (here a local directory standing in for
 * `s3://team-bucket/ferry-registry`), rename and remove. Everything happens in a temporary directory
 * that is removed at the end.
 */
import "./src/from-source.ts";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { Blob, Folder, ResourceRegistry, Table, blob, folder, load, table } = await import("@ferry/core");

const work = await mkdtemp(join(tmpdir(), "ferry-registry-demo-"));
const step = (title: string) => console.log(`\n== ${title}`);
// In a project these come from ferry.config.json: { "registry": { "shared": "s3://team-bucket/ferry-registry" } }
const options = { cwd: work, shared: join(work, "team-registry") };

console.log(`ferry registry walkthrough — working in ${work}`);
try {
  step("1. A folder saved under a name, loaded back by name");
  const images = folder({ name: "~/training_imgs", path: join(work, "training_imgs"), system: "file" });
  await images.put({ "0.png": "png-0", "1.png": "png-1" });
  await images.save(options);
  const loaded = await Folder.fromName("~/training_imgs", options);
  console.log(`${loaded.name} → ${loaded.url}: ${JSON.stringify(await loaded.ls())}`);

  step("2. A table: rows in parquet, flavour and schema in the registry");
  const grades = { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] };
  await table({ data: grades, name: "@/sample_table", path: join(work, "tables", "sample_table") }).save(
    options,
  );
  const reloaded = await Table.fromName("@/sample_table", options);
  for await (const batch of reloaded.stream({ batchSize: 2 })) console.log(JSON.stringify(batch));

  step("3. A blob of bytes: Blob.fromName(name).fetch() returns exactly what was written");
  const bytes = new TextEncoder().encode(JSON.stringify(Array.from({ length: 10 }, (_, i) => i)));
  await (await blob(bytes, join(work, "blobs", "my_blob.json")).write()).save({
    ...options,
    name: "my_blob",
  });
  console.log(new TextDecoder().decode(await (await Blob.fromName("my_blob", options)).fetch()));

  step("4. Saving again keeps a history; any version loads");
  await table({ id: [7], grade: ["f"] }, join(work, "tables", "sample_table_v2")).save({
    ...options,
    name: "@/sample_table",
  });
  const registry = new ResourceRegistry(options);
  for (const entry of await registry.history("@/sample_table"))
    console.log(`v${entry.version}  ${entry.updated}  ${entry.url}`);
  const first = await load<InstanceType<typeof Table>>("@/sample_table", { ...options, version: 1 });
  console.log(`version 1 has ${await first.count()} rows`);

  step("5. What the registry holds, and what an entry looks like");
  console.log(await registry.list());
  console.log(JSON.stringify(await registry.entry("~/training_imgs"), null, 2));

  step("6. Share a local name with the team (rename across registries), then remove one");
  await registry.rename("~/training_imgs", "@/training_imgs");
  await registry.rm("my_blob");
  console.log(await registry.list());
  console.log(
    `shared registry files: ${JSON.stringify(await readdir(join(work, "team-registry"), { recursive: true }))}`,
  );

  step("7. Secrets are refused, names are checked");
  for (const attempt of [
    () => registry.save(loaded, { name: "~/leaky", metadata: { aws_secret_access_key: "…" } }),
    () => registry.save(loaded, { name: "~/../escape" }),
  ]) {
    await attempt().catch((error: Error) => console.log(`${error.name}: ${error.message}`));
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
