// Pays for one HTTP request with the official x402 JS client (@x402/fetch + @x402/evm), as any x402
// buyer on npm would. Used by tests/interop/test_x402_js.py against a Sova seller.
// Input (stdin, JSON): {url, method, body, privateKey, network, asset, maxAmount}
// Output (stdout, JSON): {status, body, paymentResponse}
import { wrapFetchWithPaymentFromConfig, decodePaymentResponseHeader } from "@x402/fetch";
import { ExactEvmScheme } from "@x402/evm";
import { privateKeyToAccount } from "viem/accounts";

let raw = "";
for await (const chunk of process.stdin) raw += chunk;
const input = JSON.parse(raw);
const account = privateKeyToAccount(input.privateKey);
const pay = wrapFetchWithPaymentFromConfig(fetch, {
  schemes: [{ network: input.network, client: new ExactEvmScheme(account) }],
  // TestUSD is not one of the SDK's default assets: list it, with the SDK's own per-payment cap.
  spendControls: { allowedAssets: [{ network: input.network, asset: input.asset, maxAmountPerPayment: input.maxAmount }] },
});
const response = await pay(input.url, {
  method: input.method ?? "GET",
  body: input.body ?? undefined,
  headers: input.body ? { "content-type": "application/json" } : {},
});
const header = response.headers.get("PAYMENT-RESPONSE");
process.stdout.write(JSON.stringify({
  status: response.status,
  body: await response.text(),
  paymentResponse: header ? decodePaymentResponseHeader(header) : null,
}));
