/**
 * Just enough TOML to write gateway configs: tables of strings, numbers,
 * booleans and string arrays. A key whose value is undefined is left out,
 * which lets a test delete a default key through an override.
 */

type TomlScalar = string | number | boolean;
export type TomlValue = TomlScalar | readonly TomlScalar[] | undefined;
export type TomlDocument = Record<string, Record<string, TomlValue>>;

function key(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name);
}

// A JSON string literal is a valid TOML basic string for everything we write
// (JSON escapes are a subset of TOML's).
function value(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "nan";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(value).join(", ")}]`;
  throw new TypeError(`toToml: cannot write ${JSON.stringify(v)}`);
}

export function toToml(doc: TomlDocument): string {
  const sections = Object.entries(doc).map(([section, table]) => {
    const lines = Object.entries(table)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${key(k)} = ${value(v)}`);
    return [`[${key(section)}]`, ...lines].join("\n");
  });
  return `${sections.join("\n\n")}\n`;
}

/** Per-section merge: override keys replace defaults, new sections are added. */
export function mergeToml(base: TomlDocument, overrides: Record<string, Record<string, unknown>> = {}): TomlDocument {
  const merged: TomlDocument = {};
  for (const section of new Set([...Object.keys(base), ...Object.keys(overrides)])) {
    merged[section] = { ...base[section], ...(overrides[section] as Record<string, TomlValue> | undefined) };
  }
  return merged;
}
