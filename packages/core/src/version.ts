/** The @ferry/core version, recorded in registry entries and run logs. */
export const VERSION = "0.1.0";
