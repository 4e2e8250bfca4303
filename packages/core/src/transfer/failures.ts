/** For callers that want an exception rather than a summary with failures in it (Folder.to, Blob.to). */
import { FerryError } from "@ferry/plugin-kit";
import type { TransferSummary } from "./types.ts";

/** Returns the summary when every file made it; otherwise throws the first failure's code, naming how many failed. */
export function throwOnFailures(summary: TransferSummary): TransferSummary {
  const first = summary.errors[0];
  if (summary.failed === 0 || !first) return summary;
  const attempted = summary.copied + summary.failed;
  throw new FerryError(
    first.error.code,
    `${summary.failed} of ${attempted} file(s) could not be copied to ${summary.destination}; first, ${first.path || "the file"}: ${first.error.message}`,
    {
      system: first.error.system,
      path: first.error.path,
      retryable: first.error.retryable,
      cause: first.error,
    },
  );
}
