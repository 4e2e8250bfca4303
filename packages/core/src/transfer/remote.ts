/**
 * The remote route: when one end lives on a host we reach over SSH (a "cluster") and the other is
 * a remote system too, the copy runs on that host, so the data goes straight between them instead
 * of bouncing off this machine (the host pushes when it is the source, pulls when it is the
 * destination). The host is probed once for a tool that can do it — ferry's own CLI, else rclone,
 * else the aws CLI (S3 destinations only) — and the list of files travels on the command's stdin.
 * How the host reaches the destination (credentials, endpoints) is the host's own configuration,
 * plus any `remoteEnv` the caller passes; nothing secret is ever put on a command line here.
 */
import type { Storage } from "@ferry/plugin-kit";
import type { ResolvedEndpoint } from "./endpoints.ts";
import type { PlannedAction } from "./types.ts";

export type RemoteTool = "ferry" | "rclone" | "aws";

const TOOLS: readonly RemoteTool[] = ["ferry", "rclone", "aws"];

export interface RemoteCopyResult {
  tool: RemoteTool;
  /** Command text, file list and command output: all that passed through this process. */
  bytesThroughClient: number;
  exitCode: number;
  /** Last lines of the command's stderr when it failed. */
  message: string;
}

/** Tools installed on the host, in order of preference. */
export async function probeTools(
  host: Storage,
  env: Record<string, string> | undefined,
  signal: AbortSignal | undefined,
): Promise<RemoteTool[]> {
  const script = TOOLS.map((tool) => `command -v ${tool} >/dev/null 2>&1 && echo ${tool}`).join("; ");
  const result = await host.exec(`${script}; true`, { signal, ...(env ? { env } : {}) });
  const found = new Set(result.stdout.split(/\s+/));
  return TOOLS.filter((tool) => found.has(tool));
}

/** The first installed tool that can reach the other end's system (rclone: when its plugin names an rclone remote). */
export function chooseTool(
  installed: readonly RemoteTool[],
  otherEnd: ResolvedEndpoint,
): RemoteTool | undefined {
  return installed.find((tool) => {
    if (tool === "aws") return otherEnd.storage.system === "s3";
    if (tool === "rclone") return otherEnd.grammar?.rcloneRemote !== undefined;
    return true;
  });
}

/** Which end is the host the command runs on. */
export type RemoteHost = "source" | "destination";

export interface RemoteCopyInput {
  tool: RemoteTool;
  host: RemoteHost;
  source: ResolvedEndpoint;
  destination: ResolvedEndpoint;
  /** Copy actions; paths relative to the source directory (or the file's base name for a single file). */
  actions: readonly PlannedAction[];
  singleFile: boolean;
  /** Every file of the source tree is in `actions` (lets aws copy recursively in one call). */
  wholeTree: boolean;
  env: Record<string, string> | undefined;
  signal: AbortSignal | undefined;
}

export async function remoteCopy(input: RemoteCopyInput): Promise<RemoteCopyResult> {
  const list = input.singleFile ? "" : `${input.actions.map((action) => action.path).join("\n")}\n`;
  const command = buildCommand(input);
  const host = input.host === "source" ? input.source.storage : input.destination.storage;
  const result = await host.exec(command, {
    stdin: list,
    signal: input.signal,
    ...(input.env ? { env: input.env } : {}),
  });
  const bytesThroughClient =
    byteLength(command) + byteLength(list) + byteLength(result.stdout) + byteLength(result.stderr);
  const message = result.stderr.trim().split("\n").slice(-3).join(" | ");
  return { tool: input.tool, bytesThroughClient, exitCode: result.exitCode, message };
}

function buildCommand(input: RemoteCopyInput): string {
  const q = shellQuote;
  const first = input.actions[0]!;
  // The end on the host is a path there; the other end is a URL (rclone: an on-the-fly remote).
  const argument = (side: RemoteHost, key: string) => {
    const endpoint = side === "source" ? input.source : input.destination;
    if (side === input.host) return hostPath(key);
    if (input.tool === "rclone" && endpoint.location)
      return endpoint.grammar!.rcloneRemote!(endpoint.location, key);
    return remoteUrl(endpoint, key);
  };
  const from = argument("source", input.singleFile ? first.sourceKey! : input.source.key);
  const to = argument("destination", input.singleFile ? first.destinationKey : input.destination.key);
  // The file list arrives on stdin; tools that want a file get a temporary one, removed afterwards.
  const withListFile = (run: string) =>
    `list=$(mktemp) && cat > "$list" && { ${run}; }; code=$?; rm -f "$list"; exit $code`;
  switch (input.tool) {
    case "ferry":
      return input.singleFile
        ? `ferry cp ${q(from)} ${q(to)}`
        : withListFile(`ferry cp --files-from "$list" ${q(from)} ${q(to)}`);
    case "rclone":
      return input.singleFile
        ? `rclone copyto --no-check-dest ${q(from)} ${q(to)}`
        : withListFile(`rclone copy --no-check-dest --files-from-raw "$list" ${q(from)} ${q(to)}`);
    case "aws": {
      // An endpoint configured on the host, expanded by its shell (older aws CLIs ignore AWS_ENDPOINT_URL).
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, not a template
      const endpoint = '${AWS_ENDPOINT_URL:+--endpoint-url "$AWS_ENDPOINT_URL"}';
      const copy = `aws s3 cp --only-show-errors ${endpoint}`;
      if (input.singleFile) return `${copy} ${q(from)} ${q(to)}`;
      if (input.wholeTree) return `cat >/dev/null; ${copy} --recursive ${q(from)} ${q(to)}`;
      const slash = (text: string) => q(`${text.replace(/\/$/, "")}/`);
      return `while IFS= read -r f; do ${copy} ${slash(from)}"$f" ${slash(to)}"$f" || exit 1; done`;
    }
  }
}

/**
 * A key as the host's shell sees it. Commands start in the storage's root directory (the
 * contract's default working directory for `exec`), so the key is used relative to it.
 */
export function hostPath(key: string): string {
  return key === "" ? "." : `./${key}`;
}

/** The URL of `key` at an endpoint (same system and root), as the machine running the command must name it. */
function remoteUrl(endpoint: ResolvedEndpoint, key: string): string {
  const location = endpoint.location;
  if (location && endpoint.grammar?.remoteUrl) return endpoint.grammar.remoteUrl(location, key);
  if (location) return `${location.url.slice(0, location.url.length - location.path.length)}${key}`;
  const root = endpoint.storage.root.replace(/\/+$/, "");
  return `${root}/${key}`;
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function byteLength(text: string): number {
  return Buffer.byteLength(text);
}
