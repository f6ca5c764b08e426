// One line of the doctor's report: a verdict and what to do about it.
export type Level = "OK" | "WARN" | "FAIL" | "SKIP";

export interface Check {
  level: Level;
  name: string; // what was checked: "database schema", "xmpp handshake", ...
  message: string; // what was found and, unless OK, what to do
}

export const ok = (name: string, message: string): Check => ({ level: "OK", name, message });
export const warn = (name: string, message: string): Check => ({ level: "WARN", name, message });
export const fail = (name: string, message: string): Check => ({ level: "FAIL", name, message });
export const skip = (name: string, message: string): Check => ({ level: "SKIP", name, message });
