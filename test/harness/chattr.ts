// Root ignores mode bits, so tests that need a file the gateway cannot write
// set the immutable flag instead; not every file system has it (overlayfs,
// tmpfs on older kernels), nor every machine e2fsprogs' chattr.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether this machine lets us set the immutable flag in the temp dir. */
export function chattrWorks(): boolean {
  const dir = mkdtempSync(join(tmpdir(), "up-chattr-"));
  const f = join(dir, "f");
  writeFileSync(f, "x");
  try {
    execFileSync("chattr", ["+i", f], { stdio: "ignore" });
    execFileSync("chattr", ["-i", f], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
