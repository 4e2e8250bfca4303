/** Commit authors: the token's user by default, or what the request body names. */
import type { Principal } from "./context.ts";
import type { Signature } from "./git.ts";
import { isoSeconds } from "./git-objects.ts";
import { HttpError } from "./http.ts";

/** The authenticated user as GitHub signs commits for them (noreply address), now. */
export function userSignature(principal: Principal): Signature {
  const date = isoSeconds(new Date());
  if (principal.kind === "token") {
    return {
      name: principal.login,
      email: `${principal.userId}+${principal.login}@users.noreply.github.com`,
      date,
    };
  }
  return { name: "anonymous", email: "anonymous@users.noreply.github.com", date };
}

/** An `author`/`committer` body field: `{ name, email, date? }`, or the fallback when absent. */
export function signatureInput(value: unknown, fallback: Signature, field: string, docs: string): Signature {
  if (value === undefined) return fallback;
  const record = value as Record<string, unknown>;
  if (
    typeof record !== "object" ||
    record === null ||
    typeof record.name !== "string" ||
    typeof record.email !== "string"
  ) {
    throw new HttpError(422, `Invalid request.\n\n"name" and "email" are required for '${field}'.`, docs);
  }
  const date = typeof record.date === "string" ? new Date(record.date) : new Date();
  if (Number.isNaN(date.getTime()))
    throw new HttpError(422, `Invalid request.\n\n'${field}.date' is not a valid date.`, docs);
  return { name: record.name, email: record.email, date: isoSeconds(date) };
}
