#!/usr/bin/env node
// The ferry command. A published install runs the compiled dist/main.js; in a source checkout
// (no build) Node runs the TypeScript directly, with workspace packages resolved to their source
// through the "@ferry/source" export condition. Only that branch needs module.registerHooks (Node
// 22.15+), so it is looked up there: the published command also starts on the Node 22.12 that the
// engines field allows.
import { existsSync } from "node:fs";

const built = new URL("../dist/main.js", import.meta.url);
let entry = built;
if (!existsSync(built)) {
  const { registerHooks } = await import("node:module");
  registerHooks({
    resolve: (specifier, context, nextResolve) =>
      nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
  });
  entry = new URL("../src/main.ts", import.meta.url);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
