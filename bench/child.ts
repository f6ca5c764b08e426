// A bench helper process (load generator, bare relay): forked with tsx, one
// request at a time over the IPC channel, killed with the harness's children.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { terminate, track } from "../test/harness/children.ts";

type Reply = { ok: true; value: unknown } | { ok: false; error: string };

export class Helper {
  private readonly proc: ChildProcess;
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;

  constructor(script: string) {
    this.proc = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    track(this.proc); // SIGKILLed if the bench exits or is interrupted first
    this.proc.on("message", (m: Reply) => {
      const p = this.pending;
      this.pending = undefined;
      if (m.ok) p?.resolve(m.value);
      else p?.reject(new Error(m.error));
    });
    this.proc.once("exit", (code, signal) => {
      this.pending?.reject(new Error(`${script} exited (${code ?? signal})`));
      this.pending = undefined;
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  call<T>(message: object): Promise<T> {
    if (this.pending) return Promise.reject(new Error("one call at a time"));
    return new Promise<T>((resolve, reject) => {
      this.pending = { resolve: resolve as (v: unknown) => void, reject };
      this.proc.send(message);
    });
  }

  async stop(): Promise<void> {
    this.proc.channel?.unref();
    await terminate(this.proc, "SIGTERM", 3000);
  }
}

/** The child's side: answers each message with `handle`'s result. */
export function serve<M>(handle: (message: M) => Promise<unknown>): void {
  process.on("message", (m) => {
    handle(m as M).then(
      (value) => process.send!({ ok: true, value }),
      (err: Error) => process.send!({ ok: false, error: err.stack ?? String(err) }),
    );
  });
  // The parent went away (crash, Ctrl-C): nothing left to serve.
  process.on("disconnect", () => process.exit(0));
}
