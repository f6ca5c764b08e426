import { get } from "node:http";

/**
 * Status code of a GET, or undefined when nothing answers. node:http with
 * agent:false instead of fetch: no pooled keep-alive socket stays open to
 * delay the gateway's graceful shutdown.
 */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}
