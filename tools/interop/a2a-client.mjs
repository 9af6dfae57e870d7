// A2A interop: the official A2A JavaScript SDK (@a2a-js/sdk) talks to a Sova agent.
//
// Usage: node a2a-client.mjs BASE_URL [ENVELOPE_JWS]
//        node a2a-client.mjs --verify-card FILE      (only step 1, on a card in a file: {"verified": …})
//        node a2a-client.mjs --tasks BASE_URL TASK_ID TOKEN TOKEN TOKEN
//            the caller's tasks: GetTask, ListTasks, CancelTask of TASK_ID, each request with the next
//            `Authorization: Bearer TOKEN` (a Sova caller token, one per request) through the SDK's
//            own fetch hook; prints {"get": task, "list": response, "cancel": task or {"error": …}}
//
// 1. fetches the agent card from BASE_URL/.well-known/agent-card.json and verifies its signature with the
//    SDK's own verifier (verifyAgentCardSignature), the Ed25519 key taken from the card's did:key `kid`;
// 2. sends a plain text message with SendMessage (A2A 1.0, JSON-RPC) and reads the text answer;
// 3. when ENVELOPE_JWS is given, sends it as a data part {"sova_envelope": JWS} and reads the answer.
//
// Prints one JSON line: {"card": {...}, "text": {...}, "envelope": {...}} and exits 0, or
// {"error": "..."} and exits 1.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { AgentCard, Role, TaskState, verifyAgentCardSignature } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, JsonRpcTransportFactory } from "@a2a-js/sdk/client";

// Our one JSON line goes to stdout; the SDK's own console chatter goes to stderr.
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
for (const level of ["log", "info", "debug"]) console[level] = (...args) => console.error(...args);

const NEGOTIATION = "https://sova.dev/ext/negotiation/v1";
const IDENTITY = "https://sova.dev/ext/identity/v1";
const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58(text) {
  let value = 0n;
  for (const ch of text) {
    const digit = B58.indexOf(ch);
    if (digit < 0) throw new Error(`not base58: ${ch}`);
    value = value * 58n + BigInt(digit);
  }
  const bytes = [];
  while (value > 0n) {
    bytes.unshift(Number(value % 256n));
    value /= 256n;
  }
  for (const ch of text) {
    if (ch !== "1") break;
    bytes.unshift(0);
  }
  return Buffer.from(bytes);
}

// The public JWK of a did:key Ed25519 key (multicodec 0xed 0x01, then 32 bytes).
function jwkFromDidKey(kid) {
  const did = kid.split("#")[0];
  if (!did.startsWith("did:key:z")) throw new Error(`not a did:key: ${did}`);
  const raw = base58(did.slice("did:key:z".length));
  if (raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) throw new Error("not an Ed25519 did:key");
  return { kty: "OKP", crv: "Ed25519", x: raw.subarray(2).toString("base64url") };
}

function partsOf(result) {
  const message = result.parts ? result : result.status?.message;
  return (message?.parts ?? []).map((p) => p.content ?? {});
}

const verifier = verifyAgentCardSignature(async (kid) => jwkFromDidKey(kid));

async function verifyFile(path) {
  const card = AgentCard.fromJSON(JSON.parse(readFileSync(path, "utf8")));
  try {
    await verifier(card);
  } catch (err) {
    print({ verified: false, error: String(err?.message ?? err) });
    process.exit(1);
  }
  print({ verified: true });
}

async function tasks(baseUrl, taskId, ...tokens) {
  const authorized = async (input, init = {}) => {
    const method = (init.method ?? "GET").toUpperCase();
    if (method !== "POST") return fetch(input, init);
    const headers = new Headers(init.headers ?? {});
    headers.set("Authorization", `Bearer ${tokens.shift()}`);
    return fetch(input, { ...init, headers });
  };
  const options = ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [new JsonRpcTransportFactory({ fetchImpl: authorized })],
  });
  const client = await new ClientFactory(options).createFromUrl(baseUrl);
  const out = {};
  out.get = await client.getTask({ id: taskId });
  // The SDK writes an omitted `status` as "UNRECOGNIZED", which A2A 1.0 refuses (-32602): say UNSPECIFIED.
  out.list = await client.listTasks({ status: TaskState.TASK_STATE_UNSPECIFIED });
  try {
    out.cancel = await client.cancelTask({ id: taskId });
  } catch (err) {
    out.cancel = { error: String(err?.message ?? err) };
  }
  print(out);
}

async function main() {
  const [baseUrl, envelope] = process.argv.slice(2);
  if (baseUrl === "--verify-card") return verifyFile(envelope);
  if (baseUrl === "--tasks") return tasks(...process.argv.slice(3));
  if (!baseUrl) {
    print({ error: "usage: node a2a-client.mjs BASE_URL [ENVELOPE_JWS]" });
    process.exit(2);
  }
  const client = await new ClientFactory().createFromUrl(baseUrl);
  const card = await client.getAgentCard(undefined, verifier);
  const extensions = card.capabilities?.extensions ?? [];
  const identity = extensions.find((e) => e.uri === IDENTITY)?.params ?? {};
  const out = {
    card: {
      name: card.name,
      verified: true,
      did: identity.did,
      extensions: extensions.map((e) => e.uri),
      protocol: client.protocolVersion,
    },
  };

  const textAnswer = await client.sendMessage({
    message: {
      messageId: randomUUID(),
      role: Role.ROLE_USER,
      parts: [{ content: { $case: "text", value: "hello, what can you do?" } }],
    },
  });
  out.text = {
    kind: textAnswer.parts ? "message" : "task",
    texts: partsOf(textAnswer).filter((c) => c.$case === "text").map((c) => c.value),
  };

  if (envelope) {
    const answer = await client.sendMessage({
      message: {
        messageId: randomUUID(),
        role: Role.ROLE_USER,
        parts: [{ content: { $case: "data", value: { sova_envelope: envelope } } }],
        extensions: [NEGOTIATION],
      },
    });
    const data = partsOf(answer).filter((c) => c.$case === "data").map((c) => c.value);
    out.envelope = {
      status: data.find((d) => d.sova_status)?.sova_status,
      replies: data.filter((d) => typeof d.sova_envelope === "string").map((d) => d.sova_envelope),
    };
  }
  print(out);
}

main().catch((err) => {
  print({ error: String(err?.message ?? err) });
  process.exit(1);
});
