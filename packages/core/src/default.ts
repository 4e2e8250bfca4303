/**
 * The default registry: local files work out of the box (every registry serves them); other systems
 * are registered with `ferry.use(...)` or loaded by scheme on first use.
 */
import { PluginRegistry } from "./plugins.ts";

export const ferry: PluginRegistry = /* @__PURE__ */ new PluginRegistry();
