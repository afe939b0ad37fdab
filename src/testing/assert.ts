/**
 * Minimal assertions for this folder's and the codec's tests (no third-party dependency, no
 * type packages needed). Numbers compare with `Object.is`: NaN equals NaN, 0 and −0 differ.
 *
 * @module
 */

/** Thrown by a failed assertion. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

function show(x: unknown): string {
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const a = Array.from(x as unknown as ArrayLike<number>);
    return `${x.constructor.name}(${a.length}) [${a.slice(0, 16).join(", ")}${
      a.length > 16 ? ", …" : ""
    }]`;
  }
  try {
    return JSON.stringify(x, (_k, v) => typeof v === "bigint" ? `${v}n` : v) ?? String(x);
  } catch {
    return String(x);
  }
}

/** Where `a` and `b` first differ ("" when deeply equal). */
export function difference(a: unknown, b: unknown, path = ""): string {
  if (Object.is(a, b)) return "";
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return `${path || "value"}: ${show(a)} !== ${show(b)}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return `${path || "value"}: ${a.constructor?.name} vs ${b.constructor?.name}`;
  }
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<number>;
    const y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length) return `${path}.length: ${x.length} !== ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) return `${path}[${i}]: ${x[i]} !== ${y[i]}`;
    }
    return "";
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length || ka.some((k) => !kb.includes(k))) {
    return `${path || "value"}: keys [${ka}] vs [${kb}]`;
  }
  for (const k of ka) {
    const d = difference(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`,
    );
    if (d) return d;
  }
  return "";
}

/** Asserts deep equality (typed arrays element by element). */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  const d = difference(actual, expected);
  if (d) throw new AssertionError(`${msg ? msg + ": " : ""}${d}`);
}

/** Asserts a truthy condition. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Asserts |actual − expected| ≤ tolerance. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance: number,
  msg?: string,
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${actual} is not within ${tolerance} of ${expected}`,
    );
  }
}

/**
 * Asserts that `fn` throws an instance of `type` (and, if given, a message containing
 * `includes`); returns the error.
 */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof type)) {
      throw new AssertionError(`expected ${type.name}, got ${(e as Error)?.name}: ${e}`);
    }
    if (includes !== undefined && !e.message.includes(includes)) {
      throw new AssertionError(`expected message with "${includes}", got "${e.message}"`);
    }
    return e;
  }
  throw new AssertionError(`expected ${type.name}, nothing was thrown`);
}
