/**
 * Functions longer than a limit (default 80 lines) in the product's source: every package's and
 * plugin's src/ and the test harness's. Types are stripped in place (positions kept), then the code is
 * parsed and every function, method and arrow function with a block body is measured.
 *
 *   node scripts/long-functions.ts            # list those over 80 lines, longest first
 *   node scripts/long-functions.ts --max 60   # another limit
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "acorn";
import { full } from "acorn-walk";

export interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
}

const SOURCE_ROOTS = ["packages", "plugins", "test-harness"];

function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string, inSrc: boolean): void => {
    for (const name of readdirSync(dir)) {
      if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, inSrc || name === "src");
      else if (inSrc && name.endsWith(".ts") && !name.endsWith(".d.ts")) files.push(path);
    }
  };
  for (const top of SOURCE_ROOTS) walk(join(root, top), false);
  return files.sort();
}

interface Node {
  type: string;
  start: number;
  end: number;
  loc?: { start: { line: number }; end: { line: number } };
  id?: { name?: string } | null;
  key?: { name?: string; value?: string } | null;
  body?: Node;
  value?: Node;
}

/** Every function of `file` with a block body longer than `max` lines. */
export function longFunctionsIn(file: string, max: number, root = process.cwd()): LongFunction[] {
  const code = quietly(() => stripTypeScriptTypes(readFileSync(file, "utf8"), { mode: "strip" }));
  const ast = parse(code, { ecmaVersion: "latest", sourceType: "module", locations: true });
  const found: LongFunction[] = [];
  const named = new Map<Node, string>();
  full(ast, (raw) => {
    const node = raw as unknown as Node;
    if (
      (node.type === "MethodDefinition" || node.type === "Property" || node.type === "PropertyDefinition") &&
      node.value
    )
      named.set(node.value, node.key?.name ?? node.key?.value ?? "(computed)");
    if (node.type === "VariableDeclarator" && (node as unknown as { init?: Node }).init)
      named.set((node as unknown as { init: Node }).init, node.id?.name ?? "(pattern)");
  });
  full(ast, (raw) => {
    const node = raw as unknown as Node;
    if (!/Function/.test(node.type) || node.body?.type !== "BlockStatement" || !node.loc) return;
    const lines = node.loc.end.line - node.loc.start.line + 1;
    if (lines <= max) return;
    found.push({
      file: relative(root, file),
      line: node.loc.start.line,
      name: node.id?.name ?? named.get(node) ?? "(anonymous)",
      lines,
    });
  });
  return found;
}

/** Node marks stripTypeScriptTypes experimental and says so on stderr once; this script's output is its list. */
function quietly<T>(run: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return run();
  } finally {
    process.emitWarning = emit;
  }
}

export function longFunctions(root: string, max = 80): LongFunction[] {
  return sourceFiles(root)
    .flatMap((file) => longFunctionsIn(file, max, root))
    .sort((a, b) => b.lines - a.lines);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { max: { type: "string", default: "80" } } });
  const found = longFunctions(process.cwd(), Number(values.max));
  for (const fn of found) console.log(`${String(fn.lines).padStart(4)}  ${fn.file}:${fn.line}  ${fn.name}`);
  console.log(`${found.length} functions over ${values.max} lines`);
}
