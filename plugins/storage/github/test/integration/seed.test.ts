/**
 * The seed walkthrough for GitHub: a folder in a repository copied to local disk with `folder().to()`
 * (streamed read → write through the transfer engine), and a local folder sent back as commits.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { folder, local, PluginRegistry } from "@ferry/core";
import { type GithubBackend, printLogsOnFailure, startGithubServer } from "@ferry/test-harness";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { github } from "../../src/index.ts";
import { filesAt, repoName } from "../fixture.ts";

let backend: GithubBackend;
let workdir: string;
let registry: PluginRegistry;
beforeAll(async () => {
  backend = await startGithubServer();
  workdir = await mkdtemp(join(tmpdir(), "ferry-github-seed-"));
  registry = new PluginRegistry({ lazy: false, cwd: workdir }).use(
    local(),
    github({ baseUrl: backend.baseUrl, token: backend.token }),
  );
});
afterEach((context) => printLogsOnFailure(context, backend));
afterAll(async () => {
  await registry.close();
  await backend.stop();
  await rm(workdir, { recursive: true, force: true });
});

const SAMPLE = Object.fromEntries(
  Array.from({ length: 5 }, (_, index) => [
    `rfcs/sample_file_${index}.txt`,
    `sample ${index}\n`.repeat(100 + index),
  ]),
);

it("copies a GitHub folder to local disk: the five files, byte for byte", async () => {
  const name = repoName("seed");
  await backend.createRepo("pytorch", name, { files: { ...SAMPLE, "README.md": "# rfcs\n" } });
  const remote = folder(`github://pytorch/${name}@main/rfcs`, { registry });
  expect(await remote.ls()).toEqual(Object.keys(SAMPLE).map((path) => path.slice("rfcs/".length)));
  const target = join(workdir, "torchrfcs");
  const copied = await remote.to(target);
  expect(await copied.ls()).toEqual(await remote.ls());
  expect((await readdir(target)).sort()).toEqual(
    Object.keys(SAMPLE).map((path) => path.slice("rfcs/".length)),
  );
  for (const [path, content] of Object.entries(SAMPLE)) {
    expect(await readFile(join(target, path.slice("rfcs/".length)), "utf8")).toBe(content);
  }
});

it("sends a local folder to a GitHub branch; every file arrives as a commit on that branch", async () => {
  const name = repoName("seed-up");
  const repo = await backend.createRepo("octo", name);
  const source = join(workdir, "upload");
  await mkdir(join(source, "nested"), { recursive: true });
  await writeFile(join(source, "a.txt"), "a");
  await writeFile(join(source, "nested", "b.bin"), new Uint8Array([1, 2, 3]));
  const sent = await folder(source, { registry }).to(`github://octo/${name}@main/data`);
  expect(await sent.ls({ recursive: true })).toEqual(["a.txt", "nested/b.bin"]);
  expect(filesAt(repo)).toEqual(["README.md", "data/a.txt", "data/nested/b.bin"]);
  expect([...((await repo.readFile("data/nested/b.bin")) ?? [])]).toEqual([1, 2, 3]);
});
