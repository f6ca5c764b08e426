// Where the other instances reach the link holder's HTTP server. The
// instances' configs differ only in [http] listen (issue 12), so there is no
// key to name it: a specific listen host is it; a wildcard listen (0.0.0.0,
// ::) says nothing, so we take the address PostgreSQL sees the holder's
// elector connection come from (inet_client_addr()), which is the holder's
// address on the network the instances share with the database.
//
// Limits, said in the HA docs: when PostgreSQL runs on the holder's own
// machine and is reached through loopback or a Unix socket, that address is
// loopback, right only if every instance runs on that machine; listen on a
// specific address there.

export interface Listen {
  host: string;
  port: number;
}

const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "*", "::0", "0:0:0:0:0:0:0:0"]);

/** "host:port", IPv6 in brackets; loopback of the listen's family when nothing better is known. */
export function holderAddress(listen: Listen, seenByDb: string | null): string {
  const host = WILDCARDS.has(listen.host) ? fromDb(seenByDb, listen.host) : listen.host;
  return `${host.includes(":") ? `[${host}]` : host}:${listen.port}`;
}

function fromDb(seen: string | null, wildcard: string): string {
  // inet_client_addr() is NULL over a Unix socket: the holder is on the database's machine
  if (seen === null || seen === "") return wildcard === "0.0.0.0" ? "127.0.0.1" : "::1";
  const bare = seen.replace(/\/\d+$/, ""); // an inet's text may carry a mask
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare); // IPv4 client on a dual-stack server
  return mapped ? mapped[1]! : bare;
}
