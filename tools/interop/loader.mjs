// Offline JSON-LD document loader for Sova credentials: the contexts come from the installed npm
// packages and did:key documents are derived from the key itself. Anything else is refused, so a
// verification can never reach the network.
import * as DidKey from '@digitalbazaar/did-method-key';
import {Ed25519VerificationKey2020} from '@digitalbazaar/ed25519-verification-key-2020';
import credentialsContext from 'credentials-context';
import didContext from 'did-context';
import ed25519Context from 'ed25519-signature-2020-context';

const contexts = new Map([
  ...credentialsContext.contexts,
  ...didContext.contexts,
  ...ed25519Context.contexts,
]);

const didKeyDriver = DidKey.driver();
didKeyDriver.use({
  multibaseMultikeyHeader: 'z6Mk',
  fromMultibase: Ed25519VerificationKey2020.from,
});

export async function documentLoader(url) {
  if (contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if (url.startsWith('did:key:')) {
    const document = await didKeyDriver.get({url});
    return {contextUrl: null, documentUrl: url, document};
  }
  throw new Error(`document loader: ${url} is not available offline`);
}

// Print one JSON line and exit: 0 when verified, 1 when not, 2 on bad usage.
export function finish(verified, error) {
  process.stdout.write(JSON.stringify({verified, error: error ?? null}) + '\n');
  process.exit(verified ? 0 : 1);
}

export function errorText(result) {
  const errors = [];
  const collect = r => {
    if(!r) return;
    if(r.error) {
      const e = r.error;
      errors.push(...(e.errors ?? [e]).map(x => x.message ?? String(x)));
    }
    for(const sub of r.results ?? []) collect(sub);
    for(const sub of r.credentialResults ?? []) collect(sub);
    if(r.presentationResult) collect(r.presentationResult);
  };
  collect(result);
  return [...new Set(errors)].join('; ') || 'not verified';
}
