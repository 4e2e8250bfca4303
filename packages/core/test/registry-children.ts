/** Child processes for the registry's multi-process tests. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const SOURCE = pathToFileURL(join(import.meta.dirname, "../src/index.ts")).href;
/** The repository root: bare imports of workspace packages (`@ferry/storage-s3`) resolve from here. */
const ROOT = join(import.meta.dirname, "../../..");

/**
 * Runs `body` in a fresh Node process with `core` bound to @ferry/core's source. `await ready()` in
 * the body prints "ready" and blocks until the parent says "go" on stdin, so that several children
 * can be released at the same instant once all of them have loaded.
 */
export function startNode(
  body: string,
  env: Record<string, string> = {},
): { ready: Promise<void>; go: () => void; done: Promise<string> } {
  const script = `const core = await import(${JSON.stringify(SOURCE)});
const ready = () => new Promise((resolve) => { process.stdin.once("data", () => { process.stdin.pause(); resolve(); }); console.log("ready"); });
${body}`;
  const child = spawn(process.execPath, ["--conditions=@ferry/source", "--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => undefined;
  let failEarly: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failEarly = reject;
  });
  // A child that never calls ready() is fine: `done` reports how it ended.
  ready.catch(() => undefined);
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
    if (stdout.startsWith("ready\n")) markReady();
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<string>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      failEarly(new Error(`child exited (${code}) before it was ready: ${stderr}`)),
    );
    child.on("close", (code) =>
      code === 0
        ? resolve(stdout.replace(/^ready\n/, ""))
        : reject(new Error(`child exited with ${code}: ${stderr}`)),
    );
  });
  return { ready, go: () => child.stdin.end("go\n"), done };
}

export async function runTogether(
  bodies: { body: string; env: Record<string, string> }[],
): Promise<string[]> {
  const children = bodies.map(({ body, env }) => startNode(body, env));
  await Promise.all(children.map((child) => child.ready));
  for (const child of children) child.go();
  return Promise.all(children.map((child) => child.done));
}

/** Run one child to the end; resolves with its stdout. */
export function runNode(body: string, env: Record<string, string> = {}): Promise<string> {
  return startNode(body, env).done;
}
