/**
 * The ferry walkthrough, on local storage: nothing to install or start.
 *
 *   node examples/walkthrough.ts        (or ./dev demo)
 *
 * Every location below is a local path; put an `s3://bucket/prefix`, `gs://…`, `az://…` or
 * `ssh://host/path` URL in its place (with that system's plugin installed) and the same code moves
 * data there instead. Everything happens in a temporary directory that is removed at the end.
 */
import "./src/from-source.ts";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const { blob, copy, folder, sync } = await import("@ferry/core");
type TransferSummary = import("@ferry/core").TransferSummary;

const work = await mkdtemp(join(tmpdir(), "ferry-demo-"));
const step = (title: string) => console.log(`\n== ${title}`);
const describe = (summary: TransferSummary) =>
  `copied ${summary.copied}, skipped ${summary.skipped}, deleted ${summary.deleted}, failed ${summary.failed} ` +
  `(${summary.bytes} bytes in ${summary.seconds.toFixed(3)} s)`;

console.log(`ferry walkthrough — working in ${work}`);
try {
  step("1. A folder of five files");
  const sample = folder(join(work, "sample_folder"));
  await sample.put(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [`${i}.txt`, String(i)])));
  console.log(`created ${sample.url}`);
  console.log(await sample.ls());

  step("2. Send it somewhere else with to()");
  const elsewhere = await sample.to(join(work, "elsewhere", "sample_folder"));
  console.log(`copied to ${elsewhere.url}`);
  console.log(await elsewhere.ls());
  console.log(`3.txt there contains: ${JSON.stringify(await elsewhere.text("3.txt"))}`);

  step("3. A blob of bytes, written and fetched back");
  const bytes = new Uint8Array(Array.from({ length: 50 }, (_, i) => i));
  const model = await blob(bytes, join(work, "blobs", "model.bin")).write();
  const fetched = await model.fetch();
  const same = fetched.length === bytes.length && fetched.every((value, i) => value === bytes[i]);
  console.log(`wrote ${bytes.length} bytes to ${model.url}`);
  console.log(`fetched ${fetched.length} bytes back: ${same ? "identical" : "DIFFERENT"}`);
  const backup = await model.to(join(work, "backup", "model.bin"));
  console.log(`and a copy with to(): ${backup.url} (${(await backup.fetch()).length} bytes)`);

  step("4. Copy and sync a tree, like `ferry cp` and `ferry sync`");
  const dataset = folder(join(work, "dataset"));
  await dataset.put(
    Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [
        `part-${String(i).padStart(2, "0")}.csv`,
        `id,value\n${i},${i * i}\n`,
      ]),
    ),
  );
  const mirror = join(work, "mirror");
  console.log(`first copy:  ${describe(await copy(dataset.url, mirror))}`);
  console.log(`second copy: ${describe(await copy(dataset.url, mirror))}   <- nothing changed, nothing sent`);
  await writeFile(join(work, "dataset", "part-07.csv"), "id,value\n7,forty-nine\n");
  await writeFile(join(mirror, "stale.csv"), "left over from an old run\n");
  const plan = await sync(dataset.url, mirror, { delete: true, dryRun: true });
  for (const action of plan.plan.filter((a) => a.action !== "skip"))
    console.log(`  would ${action.action} ${action.path} (${action.reason})`);
  console.log(`sync --delete: ${describe(await sync(dataset.url, mirror, { delete: true }))}`);
  console.log(
    await folder(mirror)
      .ls()
      .then(
        (names) =>
          `mirror now holds ${names.length} files, stale.csv ${names.includes("stale.csv") ? "still there" : "gone"}`,
      ),
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(`\nDone. Removed ${work}.`);
