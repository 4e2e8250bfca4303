/** Columns picked by name, in the order asked; a name the schema lacks is one InvalidInput line. */

import type { Field, Schema } from "@ferry/plugin-kit";
import { errors } from "@ferry/plugin-kit";

/**
 * The fields named by `columns` (all of them when undefined). `missing(name, columns)` words the error
 * for the interface in use (`--columns: …` for the CLI, `column "x" is not in the table at …`).
 */
export function pickFields(
  schema: Schema,
  columns: readonly string[] | undefined,
  missing: (name: string, available: string) => string,
): Field[] {
  if (!columns) return [...schema.fields];
  return columns.map((name) => {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) throw errors.invalidInput(missing(name, schema.fields.map((f) => f.name).join(", ")));
    return field;
  });
}
