#!/usr/bin/env node
// Verify a Sova LD-proof credential (Ed25519Signature2020) with Digital Bazaar's vc.js, offline.
// Usage: node verify-ldp.mjs FILE    (prints {"verified": bool, "error": ...}; exit 0 / 1 / 2)
import {readFileSync} from 'node:fs';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import * as vc from '@digitalbazaar/vc';
import {documentLoader, errorText, finish} from './loader.mjs';

if(process.argv.length !== 3) {
  process.stderr.write('usage: node verify-ldp.mjs CREDENTIAL.json\n');
  process.exit(2);
}
try {
  const credential = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const result = await vc.verifyCredential(
    {credential, suite: new Ed25519Signature2020(), documentLoader});
  finish(result.verified, result.verified ? null : errorText(result));
} catch(e) {
  finish(false, e.message);
}
