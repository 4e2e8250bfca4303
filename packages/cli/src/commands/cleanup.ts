/**
 * `ferry cleanup <location>`: remove what interrupted writes left below a location — temp files and
 * staging folders (local disk, SFTP), multipart uploads never completed (S3), blobs with only
 * uncommitted blocks (Azure) — as rclone's `cleanup` does. What counts as abandoned: a writer on
 * this machine that no longer exists, or nothing touched for `--older-than` (default 24h).
 */

import { ferry } from "@ferry/core";
import type { Leftover } from "@ferry/plugin-kit";
import { withPath } from "@ferry/plugin-kit";
import { type Command, InvalidArgumentError } from "commander";
import { action, withCommonOptions } from "../context.ts";
import { EXIT } from "../exit-codes.ts";
import { formatBytes } from "../format.ts";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `24h`, `7d` (a bare number is seconds) → milliseconds. */
export function parseAge(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("expected an age such as 90s, 30m, 24h or 7d");
  return Math.round(Number(match[1]) * UNIT_MS[match[2] || "s"]!);
}

const VERB: Record<Leftover["status"], string> = {
  removed: "removed",
  "would-remove": "would remove",
  failed: "could not remove",
};

export function registerCleanupCommands(program: Command): void {
  withCommonOptions(
    program
      .command("cleanup")
      .description("remove temp files and unfinished uploads that interrupted writes left below a location")
      .argument("<location>", "path or URL")
      .option("-n, --dry-run", "list what would be removed, removing nothing")
      .option(
        "--older-than <age>",
        "also remove leftovers untouched this long whose writer cannot be checked (90s, 30m, 24h, 7d)",
        parseAge,
      ),
  ).action(
    action(
      async ({ output, signal }, options: { dryRun?: boolean; olderThan?: number }, location: string) => {
        const target = await ferry.resolve(location);
        const { leftovers, unchecked } = await target.storage.cleanup(target.path, {
          signal,
          dryRun: options.dryRun === true,
          ...(options.olderThan !== undefined ? { olderThanMs: options.olderThan } : {}),
        });
        for (const leftover of leftovers) {
          const url = withPath(target.location, leftover.path).url;
          const size = leftover.size !== undefined ? ` (${formatBytes(leftover.size)})` : "";
          const why = leftover.error ? `: ${leftover.error}` : "";
          output.emit(
            "leftover",
            {
              url,
              path: leftover.path,
              kind: leftover.kind,
              status: leftover.status,
              reason: leftover.reason,
              ...(leftover.size !== undefined ? { size: leftover.size } : {}),
              ...(leftover.modified ? { modified: leftover.modified.toISOString() } : {}),
              ...(leftover.error ? { error: leftover.error } : {}),
            },
            `${VERB[leftover.status]}  ${leftover.kind} ${url}${size}${why}`,
          );
        }
        for (const line of unchecked) output.note(`not checked: ${line}`);
        const count = (status: Leftover["status"]) =>
          leftovers.filter((item) => item.status === status).length;
        const bytes = leftovers
          .filter((item) => item.status !== "failed")
          .reduce((total, item) => total + (item.size ?? 0), 0);
        const summary = {
          url: target.location.url,
          dryRun: options.dryRun === true,
          removed: count("removed"),
          wouldRemove: count("would-remove"),
          failed: count("failed"),
          bytes,
          unchecked,
        };
        const head = options.dryRun ? `would remove ${summary.wouldRemove}` : `removed ${summary.removed}`;
        output.emit(
          "summary",
          summary,
          `${head}, failed ${summary.failed}${unchecked.length > 0 ? `, not checked ${unchecked.length}` : ""}: ${formatBytes(bytes)}  ${target.location.url}`,
        );
        return summary.failed > 0 || unchecked.length > 0 ? EXIT.failed : EXIT.ok;
      },
    ),
  );
}
