#!/usr/bin/env node
// Verify a Sova JWT credential (or, given AUDIENCE and NONCE, a JWT presentation) with jose, given the
// Ed25519 public key taken from the issuer's / holder's did:key (the `kid` header's DID, which must be
// the `iss` claim). Offline.
// Usage: node verify-jwt.mjs FILE [AUDIENCE NONCE]   (prints {"verified": bool, "error": ...}; exit 0 / 1 / 2)
import {readFileSync} from 'node:fs';
import {decodeJwt, decodeProtectedHeader, importJWK, jwtVerify} from 'jose';
import {finish} from './loader.mjs';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function base58btc(text) {
  let n = 0n;
  for(const c of text) {
    const digit = ALPHABET.indexOf(c);
    if(digit < 0) throw new Error(`not base58btc: ${c}`);
    n = n * 58n + BigInt(digit);
  }
  const bytes = [];
  while(n > 0n) {
    bytes.unshift(Number(n % 256n));
    n /= 256n;
  }
  for(const c of text) {
    if(c !== '1') break;
    bytes.unshift(0);
  }
  return Uint8Array.from(bytes);
}

// The raw Ed25519 public key of a did:key (multibase 'z', multicodec 0xed 0x01).
export function ed25519FromDidKey(did) {
  const id = did.startsWith('did:key:z') ? did.slice('did:key:z'.length) : null;
  const raw = id && base58btc(id);
  if(!raw || raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) {
    throw new Error(`${did} is not an Ed25519 did:key`);
  }
  return raw.slice(2);
}

if(process.argv.length !== 3 && process.argv.length !== 5) {
  process.stderr.write('usage: node verify-jwt.mjs CREDENTIAL.jwt | PRESENTATION.jwt AUDIENCE NONCE\n');
  process.exit(2);
}
try {
  const jwt = readFileSync(process.argv[2], 'utf8').trim();
  const {kid} = decodeProtectedHeader(jwt);
  const {iss} = decodeJwt(jwt);
  const did = String(kid ?? '').split('#')[0];
  if(did !== iss) throw new Error(`kid ${kid} is not a key of the issuer ${iss}`);
  const x = Buffer.from(ed25519FromDidKey(did)).toString('base64url');
  const key = await importJWK({kty: 'OKP', crv: 'Ed25519', x}, 'EdDSA');
  const [audience, nonce] = process.argv.slice(3);
  const {payload} = await jwtVerify(jwt, key, {algorithms: ['EdDSA'], issuer: did, audience});
  if(audience === undefined) {
    if(!payload.vc || typeof payload.vc !== 'object') throw new Error('no vc claim');
  } else {
    if(!payload.vp || typeof payload.vp !== 'object') throw new Error('no vp claim');
    if(payload.nonce !== nonce) throw new Error(`nonce ${payload.nonce} is not the challenge ${nonce}`);
  }
  finish(true);
} catch(e) {
  finish(false, `${e.code ?? e.name}: ${e.message}`);
}
