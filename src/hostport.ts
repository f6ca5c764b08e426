// "host:port" as [http] listen writes it and the link holder announces it:
// IPv6 in brackets ("[::1]:8080"). One reading for the config and the hop.

/** The host (brackets removed) and port, or undefined when `v` is not host:port with a port up to 65535. */
export function splitHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/i.exec(v);
  const port = m ? Number(m[3]) : NaN;
  return m && port <= 65535 ? { host: (m[1] ?? m[2])!, port } : undefined;
}
