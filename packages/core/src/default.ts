/**
 * The default registry: local files work out of the box; other systems are registered with
 * `ferry.use(...)` or loaded by scheme on first use.
 */
import { local } from "./local/index.ts";
import { PluginRegistry } from "./plugins.ts";

export const ferry: PluginRegistry = new PluginRegistry();
ferry.use(local());
