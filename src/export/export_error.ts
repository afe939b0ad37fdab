/**
 * The error of an export or of loading an exported folder.
 *
 * @module
 */

import { ConfigError } from "../model/config.ts";

/**
 * A missing, corrupted or mismatched checkpoint or exported folder: one line naming the file.
 * A {@linkcode ConfigError}, so the CLIs print it without a stack trace.
 */
export class ExportError extends ConfigError {
  /** "ExportError". */
  override name = "ExportError";
}
