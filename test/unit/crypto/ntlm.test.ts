import { test } from 'node:test';
import assert from 'node:assert/strict';
import { md4 } from '../../../src/crypto/md4.js';
import {
  NtlmSigner,
  computeMic,
  computeNtlmv2Response,
  decryptExportedSessionKey,
  encryptExportedSessionKey,
  lmv2Response,
  ntlmv2ClientBlob,
  ntowfv1,
  ntowfv2,
  rc4,
  sealKey,
  signKey,
  verifyNtlmv2Response,
} from '../../../src/crypto/ntlm.js';
import * as W from '../auth/windows-capture.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('MD4: RFC 1320 A.5 vectors', () => {
  const cases: [string, string][] = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ];
  for (const [input, want] of cases) assert.equal(md4(Buffer.from(input, 'latin1')).toString('hex'), want);
});

test('RC4: RFC 6229-style known answer ("Key"/"Plaintext")', () => {
  assert.equal(rc4(Buffer.from('Key'), Buffer.from('Plaintext')).toString('hex'), 'bbf316e8d940af0ad3');
  assert.equal(rc4(Buffer.from('Wiki'), Buffer.from('pedia')).toString('hex'), '1021bf0420');
});

// MS-NLMP 4.2.4: User "User", UserDom "Domain", Passwd "Password", ServerChallenge 0123456789abcdef,
// ClientChallenge aaaaaaaaaaaaaaaa, Time 0, RandomSessionKey 55..55, AV pairs NbDomainName "Domain", NbComputerName "Server".
const serverChallenge = hex('0123456789abcdef');
const clientChallenge = hex('aaaaaaaaaaaaaaaa');
const targetInfo = hex('02000c0044006f006d00610069006e000100 0c0053006500720076006500720000000000');

test('MS-NLMP 4.2.4: NTOWFv1 and NTOWFv2', () => {
  assert.equal(ntowfv1('Password').toString('hex'), 'a4f49c406510bdcab6824ee7c30fd852');
  assert.equal(ntowfv2(ntowfv1('Password'), 'User', 'Domain').toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f');
  // The user name is upper-cased, the domain is not.
  assert.deepEqual(ntowfv2(ntowfv1('Password'), 'user', 'Domain'), ntowfv2(ntowfv1('Password'), 'User', 'Domain'));
  assert.notDeepEqual(ntowfv2(ntowfv1('Password'), 'User', 'domain'), ntowfv2(ntowfv1('Password'), 'User', 'Domain'));
});

test('MS-NLMP 4.2.4: LMv2 response, temp, NTProofStr, session base key, encrypted session key', () => {
  const key = ntowfv2(ntowfv1('Password'), 'User', 'Domain');
  assert.equal(lmv2Response(key, serverChallenge, clientChallenge).toString('hex'), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
  const blob = ntlmv2ClientBlob(0n, clientChallenge, targetInfo);
  assert.equal(
    blob.toString('hex'),
    '01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000' +
      '02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000' +
      '00000000',
  );
  const r = computeNtlmv2Response(key, serverChallenge, clientChallenge, 0n, targetInfo);
  assert.equal(r.ntProofStr.toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c');
  assert.equal(r.sessionBaseKey.toString('hex'), '8de40ccadbc14a82f15cb0ad0de95ca3');
  assert.deepEqual(r.ntChallengeResponse, Buffer.concat([r.ntProofStr, blob]));
  const random = Buffer.alloc(16, 0x55);
  const enc = encryptExportedSessionKey(r.sessionBaseKey, random);
  assert.equal(enc.toString('hex'), 'c5dad2544fc9799094ce1ce90bc9d03e');
  assert.deepEqual(decryptExportedSessionKey(r.sessionBaseKey, enc), random);
  // The server's check gives the same key; a wrong key, a flipped bit or a v1-sized response fail.
  assert.deepEqual(verifyNtlmv2Response(key, serverChallenge, r.ntChallengeResponse), r.sessionBaseKey);
  assert.equal(verifyNtlmv2Response(ntowfv2(ntowfv1('x'), 'User', 'Domain'), serverChallenge, r.ntChallengeResponse), undefined);
  const tampered = Buffer.from(r.ntChallengeResponse);
  tampered[30] = tampered[30]! ^ 1;
  assert.equal(verifyNtlmv2Response(key, serverChallenge, tampered), undefined);
  assert.equal(verifyNtlmv2Response(key, serverChallenge, Buffer.alloc(24)), undefined);
});

test('MS-NLMP 4.2.4: signing and sealing keys from the exported key 55..55', () => {
  const exported = Buffer.alloc(16, 0x55);
  assert.equal(signKey(exported, 'client').toString('hex'), '4788dc861b4782f35d43fd98fe1a2d39');
  assert.equal(sealKey(exported, 'client').toString('hex'), '59f600973cc4960a25480a7c196e4c58');
});

test('Windows capture: NTLMv2 keys, key exchange, MIC and mechListMIC', () => {
  assert.deepEqual(ntowfv1(W.PASSWORD), W.NT_HASH);
  const key = ntowfv2(W.NT_HASH, W.USER, W.DOMAIN);
  assert.deepEqual(key, W.NTOWFV2);
  const req2 = W.securityBuffer(W.SESSION_SETUP_REQUEST_2, true);
  // The AUTHENTICATE message sits inside the NegTokenResp; find it by its signature.
  const at = req2.indexOf(Buffer.from('NTLMSSP\0', 'latin1'));
  const auth = req2.subarray(at, at + 0x1a6);
  const ntOff = auth.readUInt32LE(24);
  const nt = auth.subarray(ntOff, ntOff + auth.readUInt16LE(20));
  const sbk = verifyNtlmv2Response(key, hex('0D1D8BA31179D008'), nt);
  assert.deepEqual(sbk, W.KEY_EXCHANGE_KEY);
  const keyOff = auth.readUInt32LE(56);
  const exported = decryptExportedSessionKey(sbk!, auth.subarray(keyOff, keyOff + 16));
  assert.deepEqual(exported, W.EXPORTED_SESSION_KEY);
  assert.deepEqual(signKey(exported, 'server'), W.SERVER_SIGNING_KEY);
  assert.deepEqual(signKey(exported, 'client'), W.CLIENT_SIGNING_KEY);
  assert.deepEqual(sealKey(exported, 'server'), W.SERVER_SEALING_KEY);
  assert.deepEqual(sealKey(exported, 'client'), W.CLIENT_SEALING_KEY);

  const req1 = W.securityBuffer(W.SESSION_SETUP_REQUEST_1, true);
  const negotiate = req1.subarray(req1.indexOf(Buffer.from('NTLMSSP\0', 'latin1')));
  const resp1 = W.securityBuffer(W.SESSION_SETUP_RESPONSE_1, false);
  const challenge = resp1.subarray(resp1.indexOf(Buffer.from('NTLMSSP\0', 'latin1')));
  const zeroed = Buffer.from(auth);
  zeroed.fill(0, 72, 88);
  assert.deepEqual(computeMic(exported, negotiate, challenge, zeroed), W.MIC);
  assert.deepEqual(auth.subarray(72, 88), W.MIC);

  // mechListMIC over the client's MechTypeList (SEQUENCE { NTLMSSP }), sequence number 0, each direction.
  const mechTypes = hex('300c060a2b06010401823702020a');
  const client = new NtlmSigner(W.CLIENT_SIGNING_KEY, W.CLIENT_SEALING_KEY, true);
  assert.equal(client.mac(mechTypes).toString('hex'), '0100000063775a9a5fd97f0600000000');
  const server = new NtlmSigner(W.SERVER_SIGNING_KEY, W.SERVER_SEALING_KEY, true);
  assert.equal(server.mac(mechTypes).toString('hex'), '010000003b453cdc3524164200000000');
});
