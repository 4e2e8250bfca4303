/**
 * Before a transfer writes, what earlier interrupted writes left at its destination (temp files,
 * staging folders, uploads never completed) is removed when stale by the rule in leftovers.ts:
 * a writer on this machine that no longer exists, or untouched for 24 hours. What was removed, or
 * found and could not be removed, is a note. What could not be looked for at all (a server that does
 * not list multipart uploads, a missing permission) is a debug line only (`NODE_DEBUG=ferry:leftovers`):
 * it would repeat on every transfer, and `ferry cleanup` reports it when asked. A cleanup that cannot
 * run never stops the transfer.
 */
import { debugLog, FerryError } from "@ferry/plugin-kit";

const debug = debugLog("ferry:leftovers");

import type { ResolvedEndpoint } from "./endpoints.ts";

export async function removeStaleLeftovers(
  destination: ResolvedEndpoint,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const { storage } = destination;
  if (!storage.capabilities.cleanup) return;
  try {
    const { leftovers, unchecked } = await storage.cleanup(destination.key, { signal });
    const removed = leftovers.filter((leftover) => leftover.status === "removed");
    const failed = leftovers.filter((leftover) => leftover.status === "failed");
    const bytes = removed.reduce((total, leftover) => total + (leftover.size ?? 0), 0);
    if (removed.length > 0)
      notes.push(
        `removed ${removed.length} leftover(s) of interrupted writes (${bytes} bytes) at ${destination.url}`,
      );
    for (const leftover of failed)
      notes.push(`could not remove the leftover ${leftover.path}: ${leftover.error ?? "unknown error"}`);
    for (const line of unchecked) debug("leftovers not checked: %s", line);
  } catch (error) {
    if (FerryError.isInstance(error, "Aborted") || signal?.aborted) throw error;
    debug("leftovers not checked: %s", error instanceof Error ? error.message : String(error));
  }
}
