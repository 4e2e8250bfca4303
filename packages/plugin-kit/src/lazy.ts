/**
 * What every plugin does with its SDK: load it on first use, not when the plugin is imported (a program
 * that never touches S3 never pays for the AWS SDK).
 */
import { errors } from "./errors.ts";

/**
 * `load` called once, on first use; a failed load is tried again next time. A module that is not
 * installed is PluginMissing naming `packageName`.
 */
export function lazyImport<T>(load: () => Promise<T>, packageName: string): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      const code = (error as { code?: string }).code;
      if (code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(packageName))
        throw errors.pluginMissing(`${packageName} is not installed (pnpm add ${packageName})`, {
          packageName,
          cause: error,
        });
      throw error;
    });
    return pending;
  };
}
