#!/usr/bin/env node
// The ferry command. A published install runs the compiled dist/main.js; in a source checkout
// (no build) Node runs the TypeScript directly, with workspace packages resolved to their source
// through the "@ferry/source" export condition.
import { existsSync } from "node:fs";
import { registerHooks } from "node:module";

const built = new URL("../dist/main.js", import.meta.url);
let entry = built;
if (!existsSync(built)) {
  registerHooks({
    resolve: (specifier, context, nextResolve) =>
      nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
  });
  entry = new URL("../src/main.ts", import.meta.url);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
