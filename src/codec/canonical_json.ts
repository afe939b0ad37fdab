/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings
 * as `JSON.stringify` writes them. For the values it accepts (objects, arrays, strings,
 * finite numbers, booleans, null) this is RFC 8785 (JCS), so equal content gives equal bytes
 * on every engine.
 *
 * @module
 */

/**
 * The canonical JSON text of `value`. Throws `TypeError` for anything JSON cannot carry
 * exactly (undefined, functions, bigint, NaN, ±Infinity, typed arrays, class instances,
 * cycles), rather than dropping or rewriting it silently as `JSON.stringify` would.
 *
 * @example
 * ```ts
 * canonicalJson({ b: [1, 2], a: "x" }); // '{"a":"x","b":[1,2]}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return write(value, "$", new Set());
}

function write(v: unknown, path: string, seen: Set<object>): string {
  if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) {
      throw new TypeError(`canonicalJson: ${path} is ${v}, not a finite number`);
    }
    return JSON.stringify(v); // -0 becomes 0, as in JCS
  }
  if (typeof v !== "object") throw new TypeError(`canonicalJson: ${path} is a ${typeof v}`);
  if (seen.has(v)) throw new TypeError(`canonicalJson: ${path} is a cycle`);
  seen.add(v);
  try {
    if (Array.isArray(v)) return `[${v.map((x, i) => write(x, `${path}[${i}]`, seen)).join(",")}]`;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(
        `canonicalJson: ${path} is a ${proto?.constructor?.name ?? "object"}, not a plain object`,
      );
    }
    const o = v as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is the order JCS specifies.
    const keys = Object.keys(o).sort();
    return `{${
      keys.map((k) => `${JSON.stringify(k)}:${write(o[k], `${path}.${k}`, seen)}`).join(",")
    }}`;
  } finally {
    seen.delete(v);
  }
}
