import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run an example exactly as its header and the README say: `node examples/<name>.ts`. */
export function runExample(name: string): Promise<ExampleRun> {
  const script = fileURLToPath(new URL(`../${name}.ts`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
