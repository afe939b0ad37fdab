/**
 * Runs a Deno entry point as its own process, as a user would: the CLI tests check exit codes
 * and the one-line errors on stderr.
 */

/** What a run printed and how it ended. */
export interface MainResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno run PERMISSIONS main ...args`, output captured. */
export async function runMain(
  main: string,
  args: readonly string[],
  permissions: readonly string[] = ["-A"],
): Promise<MainResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, main, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
