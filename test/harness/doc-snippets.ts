import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The fenced code blocks of language `lang` in a Markdown file of the repository. */
export function codeBlocks(file: string, lang: string): string[] {
  const text = readFileSync(`${ROOT}${file}`, "utf8");
  return [...text.matchAll(/^```([\w-]*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === lang).map((m) => m[2]!);
}

/**
 * The one block of `lang` in `file` that contains `marker`, so tests run the
 * configuration the docs show instead of a copy of it.
 */
export function docBlock(file: string, lang: string, marker: string): string {
  const found = codeBlocks(file, lang).filter((b) => b.includes(marker));
  if (found.length !== 1) throw new Error(`${file}: expected one ${lang} block with ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0]!;
}

/** Replaces each key of `values` in `text`, failing when one does not occur (the docs changed). */
export function substitute(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [from, to] of Object.entries(values)) {
    if (!out.includes(from)) throw new Error(`doc snippet no longer contains ${JSON.stringify(from)}:\n${text}`);
    out = out.replaceAll(from, to);
  }
  return out;
}
