/**
 * What an S3 ETag proves. For an object stored without a KMS or customer key, a PutObject's ETag is
 * the MD5 of the bytes the server received, an UploadPart's is that part's MD5, and a completed
 * multipart upload's is the MD5 of the parts' binary MD5s joined, then "-" and the part count. With
 * SSE-KMS or SSE-C the ETag is not an MD5 (AWS documents this); the answer's encryption headers say
 * which case applies. Only the ETag the server sends back tells ferry what actually arrived: the
 * Content-MD5 ferry sends is checked by S3 itself, but not by every S3-compatible server.
 */
import { createHash } from "node:crypto";
import { errors } from "@ferry/plugin-kit";

export const HEX_MD5 = /^[0-9a-f]{32}$/;
export const unquote = (etag: string | undefined) => etag?.replace(/^"|"$/g, "");

/** The encryption headers of an S3 answer. */
export interface EncryptionHeaders {
  ServerSideEncryption?: string | undefined;
  SSECustomerAlgorithm?: string | undefined;
}

/** SSE-KMS (any aws:kms variant) or SSE-C: the ETag is then not an MD5 of the content. */
export function isEncryptedWithKey(head: EncryptionHeaders): boolean {
  return (
    head.SSECustomerAlgorithm !== undefined ||
    (head.ServerSideEncryption !== undefined && head.ServerSideEncryption !== "AES256")
  );
}

/** The ETag S3 gives a multipart upload of parts with these MD5s (hex). */
export function multipartEtag(partMd5s: readonly string[]): string {
  const joined = createHash("md5");
  for (const part of partMd5s) joined.update(Buffer.from(part, "hex"));
  return `${joined.digest("hex")}-${partMd5s.length}`;
}

/**
 * Throws Integrity when the server's ETag shows it stored other bytes than were sent. Silent when the
 * ETag cannot tell (encrypted with a key, or a server whose ETags are not MD5-based): then the
 * Content-MD5 sent with every body is the only check, and it is the server's.
 */
export function checkEtag(
  answer: EncryptionHeaders & { ETag?: string | undefined },
  expected: string,
  object: { bucket: string; key: string; what: string },
): void {
  if (isEncryptedWithKey(answer)) return;
  const etag = unquote(answer.ETag)?.toLowerCase();
  if (etag === undefined || !(HEX_MD5.test(etag) || /^[0-9a-f]{32}-\d+$/.test(etag))) return;
  if (etag === expected) return;
  throw errors.integrity(
    `write s3://${object.bucket}/${object.key}: the server stored other bytes than were sent (${object.what} ETag ${etag}, sent ${expected}): corrupted on the way`,
    { system: "s3", path: object.key, retryable: true },
  );
}
