/**
 * `@ferry/plugin-kit/content-type`: a content type guessed from a key, for systems that store one. A
 * subpath of its own so that importing the kit (and so `@ferry/core`) does not load the MIME table.
 */
import mime from "mime";

/** The content type of `key` from its extension (`report.csv` → `text/csv`), or undefined. */
export function contentTypeOf(key: string): string | undefined {
  return mime.getType(key) ?? undefined;
}
