// `npm run demo`: a throwaway Prosody, the gateway started as `npm start` would,
// and a demo distributor that registers an endpoint and prints every push.
// Ctrl-C stops all three and removes their temp dirs.
import { startProsody } from "../test/harness/prosody.ts";
import { startGateway } from "../test/harness/gateway.ts";
import { connectDistributor } from "../test/harness/distributor.ts";

const printable = (b: Buffer): string => {
  const s = b.toString("utf8");
  return Buffer.from(s, "utf8").equals(b) && !/[\x00-\x08\x0e-\x1f]/.test(s) ? JSON.stringify(s) : `(binary, ${b.length} bytes) ${b.toString("base64")}`;
};

const prosody = await startProsody();
const gateway = await startGateway(prosody);
await gateway.waitHealthy(15_000);
const phone = await connectDistributor(prosody, { username: "demo", resource: "phone" });
// Registered like Conversations does: hashes of an account UUID and the app's package name.
const reg = await phone.register2(phone.hash("demo-account", "org.example.app"), phone.hash("demo-account", "org.example.app", "instance"));
await phone.sendPresence();

console.log(`
UnifiedPush gateway demo
  XMPP server   Prosody on 127.0.0.1:${prosody.c2sPort} (component ${prosody.components[0]!.domain} on ${prosody.componentPort})
  gateway       ${gateway.url}  (pid ${gateway.pid}, health ${gateway.url}/healthz)
  distributor   ${phone.jid}
  endpoint      ${reg.endpoint}  (valid until ${reg.expiration.toISOString()})

Send a push from another terminal:

  curl -i -X POST --data 'Hello from curl' ${reg.endpoint}

Every push the distributor receives is printed below. Ctrl-C stops everything.
`);

let seen = 0;
const timer = setInterval(() => {
  for (; seen < phone.pushes.length; seen++) {
    console.log(`${new Date().toISOString()}  push received: ${printable(phone.pushes[seen]!.payload)}`);
  }
}, 100);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  console.log("\nstopping the distributor, the gateway and Prosody...");
  await phone.stop().catch(() => undefined);
  await gateway.stop("SIGTERM").catch(() => undefined);
  await gateway.cleanup();
  await prosody.stop();
  console.log("all stopped.");
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
