/**
 * Writes: one Put Blob for bodies that fit in a block, staged blocks and a block list otherwise.
 * Every request carries Content-MD5 so the service rejects a corrupted body; the whole blob's MD5 is
 * computed as bytes pass and committed as its Content-MD5, so block uploads keep an MD5 too.
 * Nothing is visible until the block list is committed; uncommitted blocks of a failed upload cannot
 * be deleted through the API and are discarded by the service (after seven days on Azure).
 * A declared MD5 is not computed again: core checks it as bytes pass and fails the source before it
 * ends (so no block list is committed), and a single Put Blob sends it as its Content-MD5.
 */
import type { BlockBlobClient } from "@azure/storage-blob";
import {
  chunkBytes,
  errors,
  forEachConcurrent,
  md5Of,
  md5OfHandover,
  md5Stream,
  PartRecycler,
  readUpTo,
  tempNameHead,
  throwIfAborted,
} from "@ferry/plugin-kit";

export interface BlockUpload {
  blob: BlockBlobClient;
  /** `az://container/path`, for messages. */
  name: string;
  path: string;
  contentType: string | undefined;
  ifNoneMatch: "*" | undefined;
  size: number | undefined;
  blockSize: number;
  concurrency: number;
  /** Known MD5 (hex) of the whole body, if the caller declared one. */
  md5: string | undefined;
  signal: AbortSignal | undefined;
}

export interface UploadResult {
  etag: string | undefined;
  md5: string;
  size: number;
  lastModified: Date | undefined;
}

const MAX_BLOCKS = 50_000;

/**
 * The service answers Put Blob and Put Block with the Content-MD5 of the body it received. Absent
 * (a service that answers none) it proves nothing, and the Content-MD5 sent, which the service
 * checks, is the only check.
 */
const sameMd5 = (answered: Uint8Array | undefined, sent: Uint8Array) =>
  answered === undefined || Buffer.from(answered).equals(sent);

function corrupted(target: BlockUpload, request: string, answered: Uint8Array | undefined, sent: Uint8Array) {
  return errors.integrity(
    `write ${target.name}: the service received other bytes than were sent (${request} answered Content-MD5 ${Buffer.from(answered ?? []).toString("hex")}, sent ${Buffer.from(sent).toString("hex")}): corrupted on the way`,
    { system: "az", path: target.path, retryable: true },
  );
}

const signalOption = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});
const conditions = (ifNoneMatch: "*" | undefined) => (ifNoneMatch ? { conditions: { ifNoneMatch } } : {});

export async function uploadBlob(
  target: BlockUpload,
  source: AsyncIterable<Uint8Array>,
): Promise<UploadResult> {
  const blockSize =
    target.size === undefined
      ? target.blockSize
      : Math.max(target.blockSize, Math.ceil(target.size / MAX_BLOCKS));
  const { head, rest } = await readUpTo(source, blockSize);
  if (rest === undefined) return putBlob(target, head);
  return stageAndCommit(target, rest, blockSize);
}

async function putBlob(target: BlockUpload, body: Uint8Array): Promise<UploadResult> {
  const digest = Buffer.from(target.md5 ?? (await md5Of(body)), "hex");
  const response = await target.blob.upload(body, body.byteLength, {
    transactionalContentMD5: digest,
    blobHTTPHeaders: {
      blobContentMD5: digest,
      ...(target.contentType ? { blobContentType: target.contentType } : {}),
    },
    ...conditions(target.ifNoneMatch),
    ...signalOption(target.signal),
  });
  if (!sameMd5(response.contentMD5, digest)) {
    // Stored, but not what was sent: removed, so no one reads it under this name.
    const ours = response.etag ? { conditions: { ifMatch: response.etag } } : {};
    await target.blob.deleteIfExists(ours).catch(() => undefined);
    throw corrupted(target, "Put Blob", response.contentMD5, digest);
  }
  return {
    etag: response.etag,
    md5: digest.toString("hex"),
    size: body.byteLength,
    lastModified: response.lastModified,
  };
}

async function stageAndCommit(
  target: BlockUpload,
  source: AsyncIterable<Uint8Array>,
  blockSize: number,
): Promise<UploadResult> {
  // Block ids are unique per upload, so two concurrent uploads to one name never mix blocks.
  // Core's temp-name head names the writer (host and pid), so cleanup.ts can tell an abandoned upload.
  const uploadId = tempNameHead();
  const blockIds: string[] = [];
  // Hashed on a second thread where there is one (core's md5.ts), beside the uploads.
  const whole = target.md5 ? undefined : md5Stream(target.size ?? Infinity);
  let size = 0;
  const recycler = new PartRecycler(target.concurrency);
  const hashed = (async function* () {
    for await (const block of chunkBytes(source, blockSize, recycler)) {
      whole?.update(block);
      size += block.byteLength;
      yield block;
    }
  })();
  const staging = forEachConcurrent(hashed, target.concurrency, async (filled, index) => {
    throwIfAborted(target.signal);
    const blockId = Buffer.from(`${uploadId}-${String(index).padStart(6, "0")}`).toString("base64");
    blockIds[index] = blockId;
    // The block's memory goes to the hashing thread and back (no copy); `block` is the same bytes.
    const { digest, bytes: block } = await md5OfHandover(filled);
    const sent = Buffer.from(digest, "hex");
    const staged = await target.blob.stageBlock(blockId, block, block.byteLength, {
      transactionalContentMD5: sent,
      ...signalOption(target.signal),
    });
    // A block the service got wrong fails the upload before its block list is committed.
    if (!sameMd5(staged.contentMD5, sent))
      throw corrupted(target, `Put Block ${index + 1}`, staged.contentMD5, sent);
    recycler.give(block); // staged: its memory can hold a later block
  });
  await staging.catch((error: unknown) => {
    whole?.drop();
    throw error;
  });
  throwIfAborted(target.signal);
  const digest = Buffer.from(whole ? await whole.digest("hex") : target.md5!, "hex");
  // Committing is not aborted midway: the blob appears whole or not at all.
  const response = await target.blob.commitBlockList(blockIds, {
    blobHTTPHeaders: {
      blobContentMD5: digest,
      ...(target.contentType ? { blobContentType: target.contentType } : {}),
    },
    ...conditions(target.ifNoneMatch),
  });
  return { etag: response.etag, md5: digest.toString("hex"), size, lastModified: response.lastModified };
}
