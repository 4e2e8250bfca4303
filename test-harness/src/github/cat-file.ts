/**
 * One long-lived `git cat-file --batch-command` per repository: object reads (type, size, content,
 * and names like `refs/heads/main^{commit}` or `<commit>:<path>`) without a process per call.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";

export interface ObjectInfo {
  sha: string;
  type: "blob" | "tree" | "commit" | "tag";
  size: number;
}

interface Pending {
  withContent: boolean;
  resolve(value: { info: ObjectInfo; content: Buffer | undefined } | undefined): void;
  reject(error: Error): void;
}

export class CatFile {
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #queue: Pending[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #closed = false;

  constructor(env: NodeJS.ProcessEnv) {
    this.#process = spawn("git", ["cat-file", "--batch-command"], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.#process.stdout.on("data", (chunk: Buffer) => {
      this.#buffer = this.#buffer.byteLength === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#drain();
    });
    this.#process.stdin.on("error", () => this.#fail(new Error("git cat-file stopped")));
    this.#process.on("exit", () => this.#fail(new Error("git cat-file exited")));
  }

  #fail(error: Error): void {
    this.#closed = true;
    for (const pending of this.#queue.splice(0)) pending.reject(error);
  }

  #drain(): void {
    for (;;) {
      const pending = this.#queue[0];
      if (!pending) return;
      const newline = this.#buffer.indexOf(10);
      if (newline === -1) return;
      const header = this.#buffer.subarray(0, newline).toString("utf8");
      const parts = header.split(" ");
      if (parts.length !== 3 || !/^[0-9a-f]{40}$/.test(parts[0]!)) {
        // "<name> missing" or "<name> ambiguous"
        this.#buffer = this.#buffer.subarray(newline + 1);
        this.#queue.shift();
        pending.resolve(undefined);
        continue;
      }
      const info: ObjectInfo = {
        sha: parts[0]!,
        type: parts[1] as ObjectInfo["type"],
        size: Number(parts[2]),
      };
      if (!pending.withContent) {
        this.#buffer = this.#buffer.subarray(newline + 1);
        this.#queue.shift();
        pending.resolve({ info, content: undefined });
        continue;
      }
      const end = newline + 1 + info.size;
      if (this.#buffer.byteLength < end + 1) return;
      const content = Buffer.from(this.#buffer.subarray(newline + 1, end));
      this.#buffer = this.#buffer.subarray(end + 1);
      this.#queue.shift();
      pending.resolve({ info, content });
    }
  }

  #ask(
    command: "info" | "contents",
    name: string,
  ): Promise<{ info: ObjectInfo; content: Buffer | undefined } | undefined> {
    if (this.#closed) return Promise.reject(new Error("git cat-file is closed"));
    if (/[\n\r\0]/.test(name)) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.#queue.push({ withContent: command === "contents", resolve, reject });
      this.#process.stdin.write(`${command} ${name}\n`);
    });
  }

  async info(name: string): Promise<ObjectInfo | undefined> {
    return (await this.#ask("info", name))?.info;
  }

  async contents(name: string): Promise<{ info: ObjectInfo; content: Buffer } | undefined> {
    const answer = await this.#ask("contents", name);
    return answer ? { info: answer.info, content: answer.content! } : undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#process.stdin.end();
    this.#process.kill();
  }
}
