/**
 * Wire formats and their strict decoders.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./update_codec.ts";
