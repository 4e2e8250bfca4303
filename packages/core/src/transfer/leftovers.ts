/**
 * Before a transfer writes, what earlier interrupted writes left at its destination (temp files,
 * staging folders, uploads never completed) is removed when stale by the rule in leftovers.ts:
 * a writer on this machine that no longer exists, or untouched for 24 hours. The outcome is a note;
 * a cleanup that cannot run does not stop the transfer.
 */
import { FerryError } from "../errors.ts";
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
    for (const line of unchecked) notes.push(`leftovers not checked: ${line}`);
  } catch (error) {
    if (FerryError.isInstance(error, "Aborted") || signal?.aborted) throw error;
    notes.push(`leftovers not checked: ${error instanceof Error ? error.message : String(error)}`);
  }
}
