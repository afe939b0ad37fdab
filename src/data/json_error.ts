/**
 * Locates JSON syntax errors. `JSON.parse` messages differ between engines and often omit
 * the position, so error messages are built from this scanner instead.
 *
 * @module
 */

/**
 * The index (UTF-16 code units) of the first syntax error in `text`, or `undefined` when
 * `text` is valid JSON (or too deeply nested to scan).
 */
export function jsonErrorPosition(text: string): number | undefined {
  const s = text;
  let i = 0;
  const ws = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
  };
  const str = (): boolean => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) return false;
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        i++;
        const e = s[i];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i++;
        } else if (e === "u") {
          i++;
          for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(s[i] ?? "")) return false;
        } else {
          return false;
        }
      } else {
        i++;
      }
    }
  };
  const NUM = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const value = (): boolean => {
    ws();
    const c = s[i];
    if (c === "{") {
      i++;
      ws();
      if (s[i] === "}") {
        i++;
        return true;
      }
      for (;;) {
        ws();
        if (s[i] !== '"' || !str()) return false;
        ws();
        if (s[i] !== ":") return false;
        i++;
        if (!value()) return false;
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === "}") return ++i > 0;
        else return false;
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (s[i] === "]") {
        i++;
        return true;
      }
      for (;;) {
        if (!value()) return false;
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === "]") return ++i > 0;
        else return false;
      }
    }
    if (c === '"') return str();
    if (c === "-" || (c >= "0" && c <= "9")) {
      NUM.lastIndex = i;
      if (!NUM.exec(s)) return false;
      i = NUM.lastIndex;
      return true;
    }
    for (const lit of ["true", "false", "null"]) {
      if (s.startsWith(lit, i)) {
        i += lit.length;
        return true;
      }
    }
    // Point at the first character where a literal goes wrong ("nul" → the end).
    for (const lit of ["true", "false", "null"]) {
      if (c === lit[0]) {
        let k = 0;
        while (k < lit.length && s[i + k] === lit[k]) k++;
        i += k;
        break;
      }
    }
    return false;
  };
  try {
    if (!value()) return i;
  } catch {
    return undefined; // Nested too deeply for the stack: report no position.
  }
  ws();
  return i < s.length ? i : undefined;
}

/** " at position P (line L column C)" for the first error in `text`, or "" if none found. */
export function jsonErrorWhere(text: string): string {
  const pos = jsonErrorPosition(text);
  if (pos === undefined) return "";
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return ` at position ${pos} (line ${line} column ${column})`;
}
