/**
 * Running commands on the host. Every path ferry puts into a command line goes through
 * `shellQuote` and follows `--`, so keys with spaces, quotes, `$`, newlines, unicode or a leading
 * dash are passed as one literal argument.
 */
import { constants } from "node:os";
import { type ExecResult, errors } from "@ferry/plugin-kit";
import type { ClientChannel } from "ssh2";
import type { Connection } from "./connection.ts";

/**
 * POSIX single-quoting: inside '…' nothing is special except the quote itself, written '\''.
 * (A one-line rule of the POSIX shell grammar, so no quoting library is needed for it.)
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `cd` + `export` prefix for a user command. Env is set in the command line: sshd drops `env` requests unless AcceptEnv allows them. */
export function commandLine(
  command: string,
  options: { cwd?: string | undefined; env?: Record<string, string> | undefined },
): string {
  const parts: string[] = [];
  if (options.cwd !== undefined) parts.push(`cd -- ${shellQuote(options.cwd)} || exit 1`);
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!ENV_NAME.test(name))
      throw errors.invalidInput(`invalid environment variable name ${JSON.stringify(name)}`, {
        system: "sftp",
      });
    parts.push(`export ${name}=${shellQuote(value)}`);
  }
  parts.push(command);
  return parts.join("\n");
}

export interface RawResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Run `command` through the login shell on the host and collect its output. */
export interface RunOptions {
  stdin?: Uint8Array | string | undefined;
  signal?: AbortSignal | undefined;
  /** Called once the host has accepted the command (it may have side effects from then on). */
  onStart?: (() => void) | undefined;
}

/**
 * The command first reports its shell's PID on stderr (a line ferry strips), so an abort can kill
 * its whole process group: sshd ignores signal requests on sessions without a terminal, and
 * closing the channel alone leaves the command running.
 */
const PID_LINE = /^ferry-pid:(\d+)\n/;

export function runRaw(
  connection: Connection,
  command: string,
  options: RunOptions = {},
): Promise<RawResult> {
  const wrapped = `printf 'ferry-pid:%s\\n' "$$" >&2\n${command}`;
  return new Promise((resolve, reject) => {
    let exited = false;
    connection.client.exec(wrapped, (error, channel: ClientChannel) => {
      if (error) {
        reject(error);
        return;
      }
      options.onStart?.();
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let head: Buffer | undefined = Buffer.alloc(0);
      let pid: string | undefined;
      let exitCode = -1;
      const onAbort = () => {
        if (pid)
          connection.client.exec(`kill -TERM -- -${pid} 2>/dev/null || kill -TERM ${pid}`, (_, killer) =>
            killer?.resume().end(),
          );
        channel.close();
        reject(errors.aborted(`command aborted on ${connection.label}`, { system: "sftp" }));
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      channel.on("data", (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on("data", (chunk: Buffer) => {
        if (head === undefined) {
          stderr.push(chunk);
          return;
        }
        head = Buffer.concat([head, chunk]);
        const newline = head.indexOf(10);
        if (newline === -1 && head.byteLength < 64) return;
        const match = PID_LINE.exec(head.subarray(0, newline + 1).toString("latin1"));
        if (match) {
          pid = match[1];
          stderr.push(head.subarray(newline + 1));
        } else {
          stderr.push(head);
        }
        head = undefined;
      });
      channel.on("exit", (code: number | null, signalName?: string) => {
        exited = true;
        if (typeof code === "number") exitCode = code;
        else if (signalName) {
          exitCode = 128 + (constants.signals[`SIG${signalName}` as keyof typeof constants.signals] ?? 0);
        }
      });
      channel.on("close", () => {
        options.signal?.removeEventListener("abort", onAbort);
        if (head !== undefined) stderr.push(head);
        // Closed without an exit status because the connection went away: not a result.
        if (!exited && connection.gone) {
          reject(
            new Error(`Not connected: the connection to ${connection.label} closed while the command ran`),
          );
          return;
        }
        resolve({ exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
      });
      if (options.stdin !== undefined) channel.end(options.stdin);
      else channel.end();
    });
  });
}

export async function run(
  connection: Connection,
  command: string,
  options: RunOptions = {},
): Promise<ExecResult> {
  const raw = await runRaw(connection, command, options);
  return { exitCode: raw.exitCode, stdout: raw.stdout.toString("utf8"), stderr: raw.stderr.toString("utf8") };
}
