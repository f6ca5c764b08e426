// Plain-text output for the admin tool: aligned tables, short tokens, UTC times.

/** Endpoint tokens are bearer capabilities: listings show only enough to tell them apart and to name one. */
export const SHORT_LENGTH = 8;
export const short = (token: string): string => (token.length > SHORT_LENGTH ? `${token.slice(0, SHORT_LENGTH)}…` : token);

/** "2026-01-15 12:00Z": minutes are enough for a terminal; --json gives full ISO times. */
export const when = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")}Z`;

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? "")].length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - [...c].length)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Two columns without a header: label and value. */
export const pairs = (rows: readonly (readonly [string, string | number])[]): string =>
  table(["", ""], rows.map(([k, v]) => [k, String(v)])).split("\n").slice(1).join("\n");
