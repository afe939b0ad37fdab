/**
 * Compiles the Oniguruma regular expressions found in Hugging Face `tokenizer.json` files
 * (Split pre-tokenizers, Replace normalizers) into JavaScript `RegExp`s with the same meaning.
 *
 * @module
 */

// Oniguruma's Unicode classes, spelled as JS property escapes: JS's own \s, \d and \w differ
// (\w and \d are ASCII-only, \s has U+FEFF but not U+0085).
const CLASS_ESCAPES: Record<string, { outside: string; inside?: string }> = {
  s: { outside: "\\p{White_Space}", inside: "\\p{White_Space}" },
  S: { outside: "\\P{White_Space}", inside: "\\P{White_Space}" },
  d: { outside: "\\p{Nd}", inside: "\\p{Nd}" },
  D: { outside: "\\P{Nd}", inside: "\\P{Nd}" },
  w: { outside: "[\\p{L}\\p{M}\\p{N}\\p{Pc}]", inside: "\\p{L}\\p{M}\\p{N}\\p{Pc}" },
  W: { outside: "[^\\p{L}\\p{M}\\p{N}\\p{Pc}]" },
  A: { outside: "^" },
  z: { outside: "$" },
  Z: { outside: "(?=\\n?$)" },
};
// Letter escapes that mean the same in both dialects.
const SAME_LETTER_ESCAPES = new Set("bBnrtfv0123456789");
// Characters that may be escaped in a JS `u`-mode pattern.
const SYNTAX = new Set("^$\\.*+?()[]{}|/");

/**
 * Translates an Oniguruma pattern to a global, Unicode-mode `RegExp`.
 *
 * `(?i:…)` groups are expanded into explicit ASCII case alternatives (`[sS]`) so that every
 * runtime matches the same way, whether or not it supports regexp modifiers.
 * Throws a plain `Error` describing the problem when the pattern uses a feature that has no
 * JS equivalent; callers add the file name.
 */
export function compileHfRegex(pattern: string): RegExp {
  const js = translate(pattern);
  try {
    return new RegExp(js, "gu");
  } catch (e) {
    throw new Error(`regex ${JSON.stringify(pattern)} is not supported (${(e as Error).message})`);
  }
}

/** Escapes `text` so that it matches literally in a `u`-mode pattern. */
export function escapeRegex(text: string): string {
  let out = "";
  for (const c of text) out += SYNTAX.has(c) ? "\\" + c : c;
  return out;
}

function translate(p: string): string {
  const bad = (what: string): never => {
    throw new Error(`regex ${JSON.stringify(p)}: ${what} is not supported`);
  };
  let out = "";
  // Whether each open group (and the current position) is case-insensitive.
  const groups: boolean[] = [];
  let ci = false;
  let i = 0;
  // Translates the escape at p[i] for its context (in a class or not) and moves past it.
  const escape = (inClass: boolean): string => {
    const c = p[i + 1];
    if (c === undefined) bad("a trailing backslash");
    if ((c === "p" || c === "P") && p[i + 2] === "{") {
      const end = p.indexOf("}", i);
      if (end < 0) bad("an unclosed \\p{");
      const s = p.slice(i, end + 1);
      i = end + 1;
      return s;
    }
    if (c === "x" || c === "u") {
      if (p[i + 2] === "{") {
        const end = p.indexOf("}", i);
        if (end < 0) bad("an unclosed \\x{");
        const s = "\\u{" + p.slice(i + 3, end) + "}";
        i = end + 1;
        return s;
      }
      const len = c === "x" ? 2 : 4;
      const s = p.slice(i, i + 2 + len);
      i += 2 + len;
      return s;
    }
    i += 2;
    const cls = CLASS_ESCAPES[c];
    if (cls) {
      const s = inClass ? cls.inside : cls.outside;
      return s ?? bad(`\\${c} inside a character class`);
    }
    if (SAME_LETTER_ESCAPES.has(c)) return "\\" + c;
    if (/[A-Za-z]/.test(c)) return bad(`the escape \\${c}`);
    // Escaped punctuation: JS `u` mode allows escaping only syntax characters (and "-" in
    // a class); any other character can stand for itself.
    if (SYNTAX.has(c) || (inClass && c === "-")) return "\\" + c;
    return c;
  };
  const swapCase = (c: string) => c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
  while (i < p.length) {
    const c = p[i];
    if (c === "\\") {
      out += escape(false);
    } else if (c === "[") {
      // A character class: copy it, adding the other case of ASCII letters inside (?i:…).
      let cls = "[";
      let extra = "";
      i++;
      if (p[i] === "^") {
        cls += "^";
        i++;
      }
      let first = true;
      while (i < p.length && (p[i] !== "]" || first)) {
        if (first && p[i] === "]") {
          // Oniguruma reads a leading "]" as a literal; in JS "[]" is the empty class.
          cls += "\\]";
          i++;
          first = false;
          continue;
        }
        first = false;
        if (p[i] === "[") bad("a nested character class");
        if (p[i] === "\\") {
          cls += escape(true);
          continue;
        }
        const ch = p[i];
        if (ci && /[A-Za-z]/.test(ch)) {
          if (p[i + 1] === "-" && /[A-Za-z]/.test(p[i + 2] ?? "")) {
            cls += p.slice(i, i + 3);
            extra += swapCase(ch) + "-" + swapCase(p[i + 2]);
            i += 3;
            continue;
          }
          extra += swapCase(ch);
        }
        cls += ch;
        i++;
      }
      if (i >= p.length) bad("an unclosed character class");
      out += cls + extra + "]";
      i++;
    } else if (c === "(") {
      groups.push(ci);
      if (p.startsWith("(?i:", i)) {
        ci = true;
        out += "(?:";
        i += 4;
      } else if (p[i + 1] === "?") {
        const m = /^\(\?(?::|=|!|<=|<!|<[A-Za-z_][A-Za-z0-9_]*>)/.exec(p.slice(i));
        if (!m) bad(`the group ${JSON.stringify(p.slice(i, i + 4))}`);
        out += m![0];
        i += m![0].length;
      } else {
        out += "(";
        i++;
      }
    } else if (c === ")") {
      if (groups.length === 0) bad("an unbalanced )");
      ci = groups.pop()!;
      out += ")";
      i++;
    } else if (c === "{" && !/^\{\d+(,\d*)?\}/.test(p.slice(i))) {
      // Oniguruma reads a brace that is not a quantifier as a literal; JS `u` mode does not.
      out += "\\{";
      i++;
    } else if (c === "}") {
      out += "\\}";
      i++;
    } else if (ci && /[A-Za-z]/.test(c)) {
      out += `[${c}${swapCase(c)}]`;
      i++;
    } else {
      // Copy quantifiers like {1,3} whole so their digits stay together.
      const q = c === "{" ? /^\{\d+(,\d*)?\}/.exec(p.slice(i))![0] : c;
      out += q;
      i += q.length;
    }
  }
  if (groups.length > 0) bad("an unclosed (");
  return out;
}
