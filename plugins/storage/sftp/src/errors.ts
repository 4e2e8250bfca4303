/**
 * SSH and SFTP failures as ferry errors: SFTP status codes, failed connections, a transport that went
 * away, and ferry-built commands that exited non-zero. Errors without an SFTP status (the transport
 * went away) pass through mapSftpError unchanged, for the pool to recognise.
 */
import { errors, FerryError, findStall } from "@ferry/plugin-kit";
import type { Verdict } from "./ssh/known-hosts.ts";
import { describeTarget, type Target } from "./ssh/target.ts";

/** SSH_FX_* status codes (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks). */
export const STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  OP_UNSUPPORTED: 8,
} as const;

/** An error that means the transport went away (no SFTP status: the request never got an answer). */
export function isLostConnection(error: unknown): boolean {
  if (findStall(error)) return true;
  if (statusOf(error) !== undefined) return false;
  return /No response from server|Not connected|closed|ECONNRESET|EPIPE|write after end/i.test(
    String((error as { message?: unknown } | undefined)?.message ?? ""),
  );
}

export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** Map a failed SFTP request on `path` (absolute, on `host`) to a FerryError; transport errors are returned as they are. */
export function mapSftpError(
  error: unknown,
  path: string,
  host: string,
  intent: "read" | "write" = "read",
): unknown {
  const status = statusOf(error);
  if (status === undefined) return error;
  const ctx = { system: "sftp", path, cause: error };
  switch (status) {
    case STATUS.NO_SUCH_FILE:
      return errors.notFound(`no such file or directory: ${path} on ${host}`, ctx);
    case STATUS.PERMISSION_DENIED:
      return errors.permissionDenied(`permission denied: cannot ${intent} ${path} on ${host}`, ctx);
    case STATUS.OP_UNSUPPORTED:
      return errors.unsupported(`${host} does not support this SFTP request (${path})`, ctx);
    default:
      return errors.unexpected(
        `SFTP ${intent} of ${path} on ${host} failed: ${(error as Error).message}`,
        ctx,
      );
  }
}

/** A failure on a read stream of `path`, typed (a dropped connection: Transient). */
export function readError(error: unknown, path: string, host: string): unknown {
  if (FerryError.isInstance(error)) return error;
  const mapped = mapSftpError(error, path, host);
  if (mapped !== error) return mapped;
  const ctx = { system: "sftp", path, cause: error };
  if (isLostConnection(error)) {
    return errors.transient(`the SSH connection to ${host} dropped while reading ${path}`, ctx);
  }
  return errors.unexpected(`reading ${path} on ${host} failed: ${(error as Error).message}`, ctx);
}

export function notRegular(path: string, host: string): FerryError {
  return errors.invalidInput(`not a regular file or directory (socket, FIFO or device): ${path} on ${host}`, {
    system: "sftp",
    path,
  });
}

export function ignoreNotFound(error: unknown): undefined {
  if (FerryError.isInstance(error, "NotFound")) return undefined;
  throw error;
}

/** A ferry-built command on `host` that exited non-zero, typed by the end of its stderr. */
export function commandError(host: string, exitCode: number, stderr: string, path: string): FerryError {
  const detail = stderr.trim().split("\n").slice(-3).join("; ");
  const ctx = { system: "sftp", path };
  if (/permission denied/i.test(detail)) {
    return errors.permissionDenied(`permission denied on ${host}: ${detail}`, ctx);
  }
  if (/no such file/i.test(detail)) {
    return errors.notFound(`no such file or directory on ${host}: ${detail}`, ctx);
  }
  return errors.unexpected(`command on ${host} exited with ${exitCode}: ${detail}`, ctx);
}

/** A connection that could not be opened: PermissionDenied (auth, host key), NotFound (unknown host), else Transient. */
export function connectError(
  error: Error & { level?: string; code?: string },
  target: Target,
  context: { hostKey?: Verdict; tried: string[] },
): FerryError {
  const where = `${target.host}:${target.port}`;
  const ctx = { system: "sftp", path: `sftp://${describeTarget(target)}`, cause: error };
  if (context.hostKey && !context.hostKey.ok) return errors.permissionDenied(context.hostKey.message, ctx);
  if (error.level === "client-authentication") {
    const tried = context.tried.length > 0 ? context.tried.join(", ") : "nothing (no key, no agent)";
    return errors.permissionDenied(
      `authentication failed for ${target.username}@${target.host} (port ${target.port}); tried ${tried}`,
      ctx,
    );
  }
  switch (error.code) {
    case "ENOTFOUND":
      return errors.notFound(
        `unknown host ${target.host}: the name does not resolve (connecting to ${where})`,
        ctx,
      );
    case "EAI_AGAIN":
      return errors.transient(
        `cannot resolve ${target.host} right now (DNS is not answering), connecting to ${where}`,
        ctx,
      );
    case "ECONNREFUSED":
      return errors.transient(`connection refused by ${where}: is sshd running and listening there?`, ctx);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ETIMEDOUT":
    case "ECONNRESET":
    case "EPIPE":
      return errors.transient(`cannot reach ${where} (${error.code})`, ctx);
  }
  if (error.level === "client-timeout") {
    return errors.transient(`SSH handshake with ${where} timed out`, ctx);
  }
  return errors.transient(`SSH connection to ${describeTarget(target)} failed: ${error.message}`, ctx);
}
