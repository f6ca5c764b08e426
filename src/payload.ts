// How a push body rides in a dialect-1 <body>: verbatim if XML can carry it
// byte for byte, else base64 (PROTOCOL.md, dialect 1, payload rule).

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// XML 1.0 Char production, minus U+000D: XML parsers turn CR and CRLF into LF
// (XML 1.0 §2.11), so a body with CR would not arrive byte-exact.
const NOT_CARRIABLE = /[^\x09\x0A\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export type EncodedBody = { text: string; base64: boolean };

export function encodeBody(bytes: Uint8Array): EncodedBody {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { text: Buffer.from(bytes).toString("base64"), base64: true };
  }
  if (NOT_CARRIABLE.test(text)) return { text: Buffer.from(bytes).toString("base64"), base64: true };
  return { text, base64: false };
}
