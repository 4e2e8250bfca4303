/** Parsing git's raw commit and tag objects into the shapes the API answers with. */
import type { CommitObject, Signature } from "./git.ts";

export function headerFields(head: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of head.split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0 && !fields.has(line.slice(0, space)))
      fields.set(line.slice(0, space), line.slice(space + 1));
  }
  return fields;
}

export function parseSignature(value: string): Signature {
  const match = /^(.*) <([^>]*)> (\d+) [+-]\d{4}$/.exec(value);
  if (!match) return { name: value, email: "", date: new Date(0).toISOString().replace(/\.\d{3}Z$/, "Z") };
  return { name: match[1]!, email: match[2]!, date: isoSeconds(new Date(Number(match[3]) * 1000)) };
}

export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function parseCommit(sha: string, raw: string): CommitObject {
  const split = raw.indexOf("\n\n");
  const head = split === -1 ? raw : raw.slice(0, split);
  const message = split === -1 ? "" : raw.slice(split + 2);
  const parents: string[] = [];
  let tree = "";
  let author: Signature | undefined;
  let committer: Signature | undefined;
  for (const line of head.split("\n")) {
    if (line.startsWith("tree ")) tree = line.slice(5);
    else if (line.startsWith("parent ")) parents.push(line.slice(7));
    else if (line.startsWith("author ")) author = parseSignature(line.slice(7));
    else if (line.startsWith("committer ")) committer = parseSignature(line.slice(10));
  }
  const unknown = { name: "", email: "", date: isoSeconds(new Date(0)) };
  return {
    sha,
    tree,
    parents,
    author: author ?? unknown,
    committer: committer ?? author ?? unknown,
    message,
  };
}
