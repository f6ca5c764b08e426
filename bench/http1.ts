// A lean HTTP/1.1 keep-alive client for the load generator: one request at a
// time per connection, the request bytes built once per endpoint, and only
// as much of the answer parsed as a status count needs. node:http costs the
// load generator ~40 µs a request, CPU the gateway competes for on 2 cores;
// this costs a fraction of that. `--loadgen http` uses node:http instead.
import { connect, type Socket } from "node:net";

const HEAD_END = Buffer.from("\r\n\r\n");
const CHUNKED_END = Buffer.from("\r\n0\r\n\r\n");

export interface Target {
  port: number;
  path: string;
  host: string;
}

/** The whole request, headers and body, as one buffer. */
export function requestBytes(t: Target, body: Buffer, headers: Record<string, string>): Buffer {
  const lines = [`POST ${t.path} HTTP/1.1`, `Host: ${t.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${body.length}`];
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]);
}

/** Resolves with the status code, or "net:CODE" when the connection failed. */
export class Connection {
  private readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private done: ((status: number | string) => void) | undefined;
  private closed = false;
  startedAt = 0; // performance.now() of the request in flight, for the timeout sweep

  constructor(port: number) {
    this.socket = connect({ host: "127.0.0.1", port, noDelay: true });
    this.socket.on("data", (d: Buffer) => this.onData(d));
    this.socket.on("error", (e: NodeJS.ErrnoException) => this.fail(`net:${e.code ?? e.message}`));
    this.socket.on("close", () => this.fail("net:closed"));
  }

  get usable(): boolean {
    return !this.closed;
  }

  get busy(): boolean {
    return this.done !== undefined;
  }

  send(bytes: Buffer): Promise<number | string> {
    return new Promise((resolve) => {
      this.done = resolve;
      this.startedAt = performance.now();
      this.socket.write(bytes);
    });
  }

  destroy(reason = "net:closed"): void {
    this.fail(reason);
    this.socket.destroy();
  }

  private fail(reason: string): void {
    this.closed = true;
    this.finish(reason);
  }

  private finish(status: number | string): void {
    const done = this.done;
    this.done = undefined;
    done?.(status);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const head = this.buf.indexOf(HEAD_END);
    if (head < 0) return;
    const headers = this.buf.toString("latin1", 0, head).toLowerCase();
    const status = Number(headers.slice(9, 12));
    let end: number;
    const length = /\r\ncontent-length:\s*(\d+)/.exec(headers);
    if (length) end = head + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/.test(headers)) {
      const last = this.buf.indexOf(CHUNKED_END, head);
      end = last < 0 ? Infinity : last + CHUNKED_END.length;
    } else end = head + 4;
    if (this.buf.length < end) return;
    this.buf = this.buf.subarray(end);
    const close = /\r\nconnection:\s*close/.test(headers);
    this.finish(status);
    if (close) this.destroy();
  }
}
