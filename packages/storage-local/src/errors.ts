/**
 * Map Node file-system errors onto ferry's closed error codes. Messages name the user's own path
 * and say what went wrong in words; the raw errno text stays in `cause`.
 */
import { errors, FerryError, toFerryError } from "@ferry/plugin-kit";

export type FsIntent = "read" | "write";

interface NodeError {
  code?: string;
  message?: string;
}

export function fsErrorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? (error as NodeError).code : undefined;
}

/** Errors of a copy that concern where it writes (no space, quota, read-only, file too large). */
export function isDestinationError(error: unknown): boolean {
  const code = fsErrorCode(error);
  return code === "ENOSPC" || code === "EDQUOT" || code === "EROFS" || code === "EFBIG";
}

/**
 * `intent` decides ENOTDIR: when reading, a file where a directory was expected means nothing is
 * there (NotFound, as an object store would say); when writing, it means the caller asked for
 * something the tree cannot hold (InvalidInput).
 */
export function mapFsError(error: unknown, filePath: string, intent: FsIntent = "read"): FerryError {
  if (FerryError.isInstance(error)) return error;
  const code = fsErrorCode(error);
  // Not a system call's error (a caller's source that threw, an AbortError): keep its own message.
  if (code === undefined || !/^E[A-Z]+$/.test(code))
    return toFerryError(error, { system: "file", path: filePath });
  const ctx = { system: "file", path: filePath, cause: error };
  switch (code) {
    case "ENOENT":
      return errors.notFound(`no such file or directory: ${filePath}`, ctx);
    case "EEXIST":
      return errors.alreadyExists(`already exists: ${filePath}`, ctx);
    case "ENOTEMPTY":
      return errors.alreadyExists(`directory is not empty: ${filePath}`, ctx);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return errors.permissionDenied(`permission denied: ${filePath}`, ctx);
    case "ENOTDIR":
      return intent === "read"
        ? errors.notFound(`no such file or directory (a parent is a file): ${filePath}`, ctx)
        : errors.invalidInput(`a parent of ${filePath} is a file, not a directory`, ctx);
    case "EISDIR":
      return errors.invalidInput(`is a directory, not a file: ${filePath}`, ctx);
    case "ENAMETOOLONG":
      return errors.invalidInput(`name too long: ${filePath}`, ctx);
    case "EILSEQ":
    case "EINVAL":
      return errors.invalidInput(`the file system refuses this name: ${filePath}`, ctx);
    case "EMFILE":
    case "ENFILE":
    case "EAGAIN":
    case "EBUSY":
    case "EINTR":
      return errors.transient(`file system busy (${code}), try again: ${filePath}`, ctx);
    case "ENOSPC":
    case "EDQUOT":
      return errors.unexpected(`no space left on the device (${code}) writing ${filePath}`, ctx);
    case "ELOOP":
      return errors.invalidInput(`too many levels of symbolic links: ${filePath}`, ctx);
    default:
      return errors.unexpected(`file system error (${code}) at ${filePath}`, ctx);
  }
}

/** Run `action`, translating anything it throws. */
export async function withFsErrors<T>(
  filePath: string,
  intent: FsIntent,
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw mapFsError(error, filePath, intent);
  }
}
