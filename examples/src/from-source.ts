/**
 * Lets an example run straight from a checkout with no build: `@ferry/*` packages resolve to their
 * TypeScript source (their "@ferry/source" export condition), which Node runs by stripping types.
 * Import this first, then import ferry's packages dynamically.
 */
import { registerHooks } from "node:module";

registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(specifier, { ...context, conditions: [...context.conditions, "@ferry/source"] }),
});
