/**
 * Minimal assertions for the data layer's tests, named after `@std/assert` so the imports
 * can switch to it once the project depends on it (it is not installed, and `node:assert`
 * needs `@types/node` under `"nodeModulesDir": "manual"`).
 *
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg = "expected a truthy value"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Deep equality: primitives by `Object.is`, arrays and typed arrays element-wise, plain objects key-wise. */
export function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    const x = a as ArrayLike<unknown>, y = b as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equal(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

function show(x: unknown): string {
  if (ArrayBuffer.isView(x)) {
    const arr = Array.from(x as unknown as ArrayLike<number>);
    const head = arr.slice(0, 20).join(", ") + (arr.length > 20 ? ", …" : "");
    return `${x.constructor.name}(${arr.length}) [${head}]`;
  }
  return Deno.inspect(x, { depth: 4 });
}

/** Asserts deep equality (see {@linkcode equal}). */
export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (!equal(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Asserts that two values are not deeply equal. */
export function assertNotEquals(actual: unknown, expected: unknown, msg?: string): void {
  if (equal(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected different values, both ${show(actual)}`,
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
  if (typeof msg === "string" && e.message !== msg) {
    throw new AssertionError(
      `error message differs\n  actual:   ${show(e.message)}\n  expected: ${show(msg)}`,
    );
  }
  if (msg instanceof RegExp && !msg.test(e.message)) {
    throw new AssertionError(`error message ${show(e.message)} does not match ${msg}`);
  }
  return e;
}

/** Asserts that `fn` throws a `cls` whose message equals `msg` (string) or matches it (RegExp). */
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
  throw new AssertionError(`expected ${cls.name} to be thrown`);
}

/** Async {@linkcode assertThrows}. */
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
  throw new AssertionError(`expected ${cls.name} to be thrown`);
}
