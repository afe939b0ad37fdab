/**
 * The project's test assertions, named and shaped after `@std/assert` so the imports can switch
 * to it once the project depends on it (it is not installed, and `node:assert` needs
 * `@types/node` under `"nodeModulesDir": "manual"`). No runtime dependency, so tests of
 * runtime-neutral code can run anywhere.
 *
 * Equality is deep and strict: numbers compare with `Object.is` (NaN equals NaN, 0 and −0
 * differ), prototypes must match, arrays and typed arrays element by element, objects key by
 * key (a key holding `undefined` still counts), maps and sets by content. Expected error
 * messages are a substring (`string`) or a pattern (`RegExp`); to pin a whole message, compare
 * the returned error's `message`.
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
  const deno = (globalThis as { Deno?: { inspect(v: unknown, o: object): string } }).Deno;
  if (deno !== undefined) return deno.inspect(x, { depth: 4 });
  try {
    return JSON.stringify(x, (_k, v) => typeof v === "bigint" ? `${v}n` : v) ?? String(x);
  } catch {
    return String(x);
  }
}

type Indexable = Record<string | number, unknown>;

/** Where `a` and `b` first differ, as "path: a !== b" ("" when deeply equal). */
export function difference(a: unknown, b: unknown, path = "value"): string {
  if (Object.is(a, b)) return "";
  const differ = `${path}: ${show(a)} !== ${show(b)}`;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return differ;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return `${path}: ${a.constructor?.name} vs ${b.constructor?.name}`;
  }
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime()) ? "" : differ;
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return `${path}.size: ${a.size} !== ${m.size}`;
    for (const [k, v] of a) {
      if (!m.has(k)) return `${path}: key ${show(k)} missing in the second map`;
      const d = difference(v, m.get(k), `${path}.get(${show(k)})`);
      if (d) return d;
    }
    return "";
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return `${path}.size: ${a.size} !== ${s.size}`;
    for (const v of a) if (!s.has(v)) return `${path}: ${show(v)} missing in the second set`;
    return "";
  }
  const isList = Array.isArray(a) || (ArrayBuffer.isView(a) && !(a instanceof DataView));
  if (isList) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return `${path}.length: ${x.length} !== ${y.length}`;
    for (let i = 0; i < x.length; i++) {
      const d = difference(x[i], y[i], `${path}[${i}]`);
      if (d) return d;
    }
    if (ArrayBuffer.isView(a)) return "";
  }
  // Plain objects key by key; for arrays this also catches holes and extra named properties.
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k) => !Object.hasOwn(b, k))) {
    return `${path}: keys [${ka}] vs [${kb}]`;
  }
  if (isList) return "";
  for (const k of ka) {
    const d = difference((a as Indexable)[k], (b as Indexable)[k], `${path}.${k}`);
    if (d) return d;
  }
  return "";
}

/** Whether `a` and `b` are deeply equal (see the module doc). */
export function equal(a: unknown, b: unknown): boolean {
  return difference(a, b) === "";
}

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Asserts deep equality (see the module doc). */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  const d = difference(actual, expected);
  if (d) throw new AssertionError(`${msg ? msg + ": " : ""}${d}`);
}

/** Asserts that two values are not deeply equal. */
export function assertNotEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (equal(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected different values, both ${show(actual)}`,
    );
  }
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

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = new (...args: any[]) => E;

function checkError<E extends Error>(e: unknown, cls: ErrorClass<E>, msg?: string | RegExp): E {
  if (!(e instanceof cls)) {
    throw new AssertionError(
      `expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : show(e)}`,
    );
  }
  if (typeof msg === "string" && !e.message.includes(msg)) {
    throw new AssertionError(`expected a message containing ${show(msg)}, got ${show(e.message)}`);
  }
  if (msg instanceof RegExp && !msg.test(e.message)) {
    throw new AssertionError(`error message ${show(e.message)} does not match ${msg}`);
  }
  return e;
}

/**
 * Asserts that `fn` throws a `cls` whose message contains `msg` (string) or matches it
 * (RegExp); returns the error.
 */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  cls: ErrorClass<E>,
  msg?: string | RegExp,
): E {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, msg);
  }
  throw new AssertionError(`expected ${cls.name}, nothing was thrown`);
}

/** Async {@linkcode assertThrows}: `fn`'s promise must reject. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: ErrorClass<E>,
  msg?: string | RegExp,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, msg);
  }
  throw new AssertionError(`expected ${cls.name} to be rejected, nothing was thrown`);
}
