/**
 * `cleanup`: blobs that hold only uncommitted blocks — a block upload whose writer was killed before
 * it committed. Azure drops them after 7 days; until then they hold space. ferry names its blocks
 * `<owner>-<index>` with core's temp-name head (`.ferry-tmp-<host>.<pid>.<random>`), so the owner of
 * an abandoned upload is read back from its block list and core's stale rule applies (leftovers.ts
 * in @ferry/plugin-kit); blocks named by anything else are removed only by age.
 *
 * Found by listing the prefix twice, with and without uncommitted blobs. Removed by Delete Blob, or,
 * where the service refuses to delete a blob that has never been committed, by committing an empty
 * block list (only if still nothing is committed there) and deleting exactly that version.
 */
import type { ContainerClient } from "@azure/storage-blob";
import {
  type CleanupOptions,
  type CleanupResult,
  type Leftover,
  staleByAge,
  staleReason,
  TEMP_PREFIX,
} from "@ferry/plugin-kit";

export async function cleanupContainer(
  container: ContainerClient,
  prefix: string,
  options: CleanupOptions,
): Promise<CleanupResult> {
  const abortSignal = options.signal ? { abortSignal: options.signal } : {};
  const below = (name: string) => prefix === "" || name === prefix || name.startsWith(`${prefix}/`);
  const committed = new Set<string>();
  for await (const blob of container.listBlobsFlat({ prefix, ...abortSignal }))
    if (below(blob.name)) committed.add(blob.name);
  const leftovers: Leftover[] = [];
  const now = Date.now();
  for await (const blob of container.listBlobsFlat({
    prefix,
    includeUncommitedBlobs: true,
    ...abortSignal,
  })) {
    if (!below(blob.name) || committed.has(blob.name)) continue;
    const client = container.getBlockBlobClient(blob.name);
    const { uncommittedBlocks = [] } = await client.getBlockList("uncommitted", abortSignal);
    const owner = Buffer.from(uncommittedBlocks[0]?.name ?? "", "base64").toString("utf8");
    const modified = blob.properties.lastModified;
    const reason = owner.startsWith(TEMP_PREFIX)
      ? staleReason(owner, modified, options.olderThanMs, now)
      : staleByAge(modified, options.olderThanMs, now);
    if (reason === undefined) continue;
    const leftover: Leftover = {
      path: blob.name,
      kind: "uncommitted-blocks",
      size: uncommittedBlocks.reduce((total, block) => total + block.size, 0),
      modified,
      reason,
      status: options.dryRun ? "would-remove" : "removed",
    };
    if (!options.dryRun) {
      try {
        await removeUncommitted(client, abortSignal);
      } catch (error) {
        leftover.status = "failed";
        leftover.error = error instanceof Error ? error.message.split("\n")[0] : String(error);
      }
    }
    leftovers.push(leftover);
  }
  return { leftovers, unchecked: [] };
}

async function removeUncommitted(
  client: ReturnType<ContainerClient["getBlockBlobClient"]>,
  abortSignal: { abortSignal?: AbortSignal },
): Promise<void> {
  try {
    await client.delete(abortSignal);
    return;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  // Committing nothing discards the uncommitted blocks; the empty blob it leaves is then deleted.
  const { etag } = await client.commitBlockList([], { conditions: { ifNoneMatch: "*" }, ...abortSignal });
  await client.delete({ conditions: etag ? { ifMatch: etag } : {}, ...abortSignal });
}
