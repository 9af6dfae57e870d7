#!/usr/bin/env node
// Verify a Sova presentation (Ed25519Signature2020, authentication) and the LD-proof credentials in
// it with Digital Bazaar's vc.js, offline, for an expected challenge and domain.
// Usage: node verify-vp.mjs FILE CHALLENGE DOMAIN    (prints {"verified": bool, "error": ...})
import {readFileSync} from 'node:fs';
import {Ed25519Signature2020} from '@digitalbazaar/ed25519-signature-2020';
import * as vc from '@digitalbazaar/vc';
import {documentLoader, errorText, finish} from './loader.mjs';

if(process.argv.length !== 5) {
  process.stderr.write('usage: node verify-vp.mjs PRESENTATION.json CHALLENGE DOMAIN\n');
  process.exit(2);
}
try {
  const presentation = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const [challenge, domain] = process.argv.slice(3);
  const result = await vc.verify({
    presentation, challenge, domain, suite: new Ed25519Signature2020(), documentLoader});
  finish(result.verified, result.verified ? null : errorText(result));
} catch(e) {
  finish(false, e.message);
}
