import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import { DerReader, decodeOid, encodeOidContent, octetString, sequence, tlv } from '../../../src/protocol/auth/asn1.js';
import {
  NEG_HINT_NAME,
  NegState,
  Oid,
  decodeSpnego,
  encodeNegTokenInit,
  encodeNegTokenResp,
} from '../../../src/protocol/auth/spnego.js';
import {
  AvId,
  NegotiateFlags,
  avString,
  decodeAuthenticate,
  decodeAvPairs,
  decodeChallenge,
  decodeNegotiate,
  decodeNtlmv2Response,
  encodeAuthenticate,
  encodeAvPairs,
  encodeChallenge,
  encodeNegotiate,
  findAv,
} from '../../../src/protocol/auth/ntlmssp.js';
import { spnegoInitToken } from '../../../src/auth/spnego-server.js';
import * as W from './windows-capture.js';

test('DER: OIDs, long lengths, bounds', () => {
  for (const o of [Oid.SPNEGO, Oid.NTLMSSP, Oid.NEGOEX, Oid.KERBEROS, Oid.MS_KERBEROS, '2.999.1']) {
    assert.equal(decodeOid(encodeOidContent(o)), o);
  }
  assert.equal(encodeOidContent(Oid.NTLMSSP).toString('hex'), '2b06010401823702020a');
  const big = octetString(Buffer.alloc(70000, 1));
  assert.equal(big.subarray(0, 5).toString('hex'), '0483011170');
  const el = new DerReader(big).next();
  assert.equal(el.content.length, 70000);
  assert.throws(() => new DerReader(big.subarray(0, 100)).next(), WireError);
  assert.throws(() => new DerReader(Buffer.from('0480', 'hex')).next(), WireError, 'indefinite length');
  assert.throws(() => new DerReader(Buffer.from('048500000000010000', 'hex')).next(), WireError, '5 length bytes');
  assert.throws(() => new DerReader(Buffer.from('1f0100', 'hex')).next(), WireError, 'high tag');
  assert.throws(() => decodeOid(Buffer.from('2b86', 'hex')), WireError, 'truncated OID');
  const s = sequence(tlv(0x02, Buffer.of(5)));
  assert.equal(s.toString('hex'), '3003020105');
});

test('SPNEGO: Windows NEGOTIATE response NegTokenInit2 (NEGOEX + NTLMSSP, negHints)', () => {
  const tok = decodeSpnego(W.negotiateSecurityBuffer(W.NEGOTIATE_RESPONSE));
  assert.equal(tok.kind, 'init');
  if (tok.kind !== 'init') return;
  assert.deepEqual(tok.mechTypes, [Oid.NEGOEX, Oid.NTLMSSP]);
  assert.ok(tok.mechToken !== undefined && tok.mechToken.subarray(0, 8).toString('latin1') === 'NEGOEXTS');
});

test('SPNEGO: our NEGOTIATE token decodes to NTLMSSP with the RFC 4178 hint', () => {
  const tok = decodeSpnego(spnegoInitToken());
  assert.equal(tok.kind, 'init');
  if (tok.kind !== 'init') return;
  assert.deepEqual(tok.mechTypes, [Oid.NTLMSSP]);
  assert.equal(tok.hintName, NEG_HINT_NAME);
  assert.equal(tok.mechToken, undefined);
});

test('SPNEGO: Windows SESSION_SETUP tokens decode; re-encoding gives the same bytes', () => {
  const init = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_REQUEST_1, true));
  assert.equal(init.kind, 'init');
  if (init.kind !== 'init') return;
  assert.deepEqual(init.mechTypes, [Oid.NTLMSSP]);
  assert.equal(init.mechTypesDer.toString('hex'), '300c060a2b06010401823702020a');
  assert.deepEqual(encodeNegTokenInit({ mechTypes: init.mechTypes, mechToken: init.mechToken! }), W.securityBuffer(W.SESSION_SETUP_REQUEST_1, true));

  const chal = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_RESPONSE_1, false));
  assert.equal(chal.kind, 'resp');
  if (chal.kind !== 'resp') return;
  assert.equal(chal.negState, NegState.ACCEPT_INCOMPLETE);
  assert.equal(chal.supportedMech, Oid.NTLMSSP);
  assert.deepEqual(
    encodeNegTokenResp({ negState: chal.negState, supportedMech: Oid.NTLMSSP, responseToken: chal.responseToken! }),
    W.securityBuffer(W.SESSION_SETUP_RESPONSE_1, false),
  );

  const auth = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_REQUEST_2, true));
  assert.equal(auth.kind, 'resp');
  if (auth.kind !== 'resp') return;
  assert.equal(auth.negState, NegState.ACCEPT_INCOMPLETE);
  assert.equal(auth.mechListMIC?.toString('hex'), '0100000063775a9a5fd97f0600000000');
  assert.deepEqual(
    encodeNegTokenResp({ negState: 1, responseToken: auth.responseToken!, mechListMIC: auth.mechListMIC! }),
    W.securityBuffer(W.SESSION_SETUP_REQUEST_2, true),
  );

  const done = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_RESPONSE_2, false));
  assert.equal(done.kind, 'resp');
  if (done.kind !== 'resp') return;
  assert.equal(done.negState, NegState.ACCEPT_COMPLETED);
  assert.deepEqual(
    encodeNegTokenResp({ negState: 0, mechListMIC: done.mechListMIC! }),
    W.securityBuffer(W.SESSION_SETUP_RESPONSE_2, false),
  );
});

test('NTLMSSP: Windows NEGOTIATE / CHALLENGE / AUTHENTICATE decode', () => {
  const init = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_REQUEST_1, true));
  if (init.kind !== 'init') throw new Error('init');
  const neg = decodeNegotiate(init.mechToken!);
  assert.equal(neg.flags >>> 0, 0xe2088297);
  assert.deepEqual(neg.version, { major: 6, minor: 3, build: 9600, revision: 15 });

  const r1 = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_RESPONSE_1, false));
  if (r1.kind !== 'resp') throw new Error('resp');
  const chal = decodeChallenge(r1.responseToken!);
  assert.equal(chal.flags >>> 0, 0xe28a8215);
  assert.equal(chal.targetName, 'SUT311');
  assert.equal(chal.serverChallenge.toString('hex'), '0d1d8ba31179d008');
  const pairs = decodeAvPairs(chal.targetInfo);
  assert.deepEqual(pairs.map((p) => p.id), [2, 1, 4, 3, 7]);
  assert.equal(findAv(pairs, AvId.MsvAvNbComputerName)?.toString('utf16le'), 'SUT311');
  assert.deepEqual(encodeAvPairs(pairs), chal.targetInfo);
  assert.deepEqual(encodeChallenge(chal), r1.responseToken);

  const r2 = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_REQUEST_2, true));
  if (r2.kind !== 'resp') throw new Error('resp');
  const auth = decodeAuthenticate(r2.responseToken!);
  assert.equal(auth.user, 'administrator');
  assert.equal(auth.domain, 'SUT311');
  assert.equal(auth.workstation, 'DRIVER311');
  assert.equal(auth.flags >>> 0, 0xe2888215);
  assert.deepEqual(auth.mic, W.MIC);
  assert.equal(auth.encryptedRandomSessionKey.toString('hex'), '3b9bdff38f5ee8f9663f11a0f4c03a78');
  const v2 = decodeNtlmv2Response(auth.ntChallengeResponse);
  assert.deepEqual(v2.ntProofStr, W.NT_PROOF_STR);
  assert.equal(v2.clientChallenge.toString('hex'), 'bc4ad05f223cc90f');
  assert.equal(findAv(v2.avPairs, AvId.MsvAvFlags)?.readUInt32LE(0), 2);
  assert.equal(findAv(v2.avPairs, AvId.MsvAvTargetName)?.toString('utf16le'), 'cifs/SUT311');
});

test('NTLMSSP: encode/decode round trips', () => {
  const neg = { flags: NegotiateFlags.UNICODE | NegotiateFlags.NTLM, domain: 'DOM', workstation: 'WS', version: { major: 10, minor: 0, build: 1, revision: 15 } };
  const n = decodeNegotiate(encodeNegotiate(neg));
  assert.equal(n.domain, 'DOM');
  assert.equal(n.workstation, 'WS');
  assert.deepEqual(n.version, neg.version);
  const ti = encodeAvPairs([avString(AvId.MsvAvNbComputerName, 'SRV'), { id: AvId.MsvAvTimestamp, value: Buffer.alloc(8, 1) }]);
  const c = decodeChallenge(encodeChallenge({ flags: NegotiateFlags.UNICODE | NegotiateFlags.TARGET_INFO, targetName: 'SRV', serverChallenge: Buffer.alloc(8, 9), targetInfo: ti }));
  assert.equal(c.targetName, 'SRV');
  assert.deepEqual(c.targetInfo, ti);
  const a = encodeAuthenticate({
    flags: NegotiateFlags.UNICODE,
    lmChallengeResponse: Buffer.alloc(24),
    ntChallengeResponse: Buffer.alloc(60, 3),
    domain: 'D',
    user: 'Ünïcödé',
    workstation: 'W',
    encryptedRandomSessionKey: Buffer.alloc(16, 4),
    withMic: true,
  });
  const d = decodeAuthenticate(a);
  assert.equal(d.user, 'Ünïcödé');
  assert.equal(d.micOffset, 72);
  assert.deepEqual(d.encryptedRandomSessionKey, Buffer.alloc(16, 4));
  // An offset pointing outside the message is a WireError.
  const bad = Buffer.from(a);
  bad.writeUInt32LE(0xfff0, 40);
  assert.throws(() => decodeAuthenticate(bad), WireError);
  assert.throws(() => decodeAvPairs(Buffer.from('01000400aaaa', 'hex')), WireError);
});
