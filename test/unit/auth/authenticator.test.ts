import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerAuthenticator, spnegoInitToken } from '../../../src/auth/spnego-server.js';
import type { AuthStep, ServerAuthOptions } from '../../../src/auth/spnego-server.js';
import { ClientAuthenticator } from '../../../src/auth/spnego-client.js';
import { NtlmClient } from '../../../src/auth/ntlm-client.js';
import { NtlmServer } from '../../../src/auth/ntlm-server.js';
import { MemoryUserStore } from '../../../src/auth/users.js';
import { ntowfv1 } from '../../../src/crypto/ntlm.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { decodeSpnego, encodeNegTokenInit, encodeNegTokenResp, NegState, Oid } from '../../../src/protocol/auth/spnego.js';
import { decodeAuthenticate, encodeAuthenticate, NegotiateFlags } from '../../../src/protocol/auth/ntlmssp.js';
import * as W from './windows-capture.js';

function options(over: Partial<ServerAuthOptions> = {}): ServerAuthOptions {
  return {
    users: new MemoryUserStore().add('alice', 'correct horse').add(W.USER, W.PASSWORD),
    netbiosName: 'SMBKIT',
    netbiosDomain: 'WORKGROUP',
    dnsName: 'smbkit.local',
    dnsDomain: 'local',
    allowGuest: false,
    allowAnonymous: true,
    ...over,
  };
}

function run(server: ServerAuthenticator, client: ClientAuthenticator): AuthStep {
  const first = server.step(client.initial());
  assert.equal(first.kind, 'continue', JSON.stringify(first));
  if (first.kind !== 'continue') return first;
  const { token } = client.step(first.token);
  const last = server.step(token);
  if (last.kind === 'done') assert.equal(client.step(last.token).done, true);
  return last;
}

test('client <-> server: right password, equal session keys, mechListMIC both ways', () => {
  const client = new ClientAuthenticator({ user: 'Alice', password: 'correct horse', domain: 'WORKGROUP', workstation: 'PC' });
  const result = run(new ServerAuthenticator(options()), client);
  assert.equal(result.kind, 'done');
  if (result.kind !== 'done') return;
  assert.equal(result.identity.user, 'alice');
  assert.equal(result.identity.guest, false);
  assert.equal(result.identity.anonymous, false);
  assert.equal(result.identity.sessionKey.length, 16);
  assert.deepEqual(result.identity.sessionKey, client.sessionKey());
  const fin = decodeSpnego(result.token);
  assert.ok(fin.kind === 'resp' && fin.negState === NegState.ACCEPT_COMPLETED && fin.mechListMIC !== undefined);
});

test('client <-> server: NT hash instead of password, any domain spelling', () => {
  const client = new ClientAuthenticator({ user: 'alice', ntHash: ntowfv1('correct horse'), domain: 'workgroup', workstation: '' });
  assert.equal(run(new ServerAuthenticator(options()), client).kind, 'done');
});

test('wrong password fails with LOGON_FAILURE', () => {
  const client = new ClientAuthenticator({ user: 'alice', password: 'wrong', domain: 'WORKGROUP', workstation: 'PC' });
  const r = run(new ServerAuthenticator(options()), client);
  assert.equal(r.kind, 'fail');
  if (r.kind === 'fail') {
    assert.equal(r.status, Status.LOGON_FAILURE);
    assert.match(r.reason, /wrong password/);
  }
});

test('unknown user: LOGON_FAILURE, or guest when allowed; "guest" is a guest', () => {
  const c1 = new ClientAuthenticator({ user: 'mallory', password: 'x', domain: '', workstation: '' });
  const r1 = run(new ServerAuthenticator(options()), c1);
  assert.ok(r1.kind === 'fail' && r1.status === Status.LOGON_FAILURE);
  const c2 = new ClientAuthenticator({ user: 'mallory', password: 'x', domain: '', workstation: '' });
  const r2 = run(new ServerAuthenticator(options({ allowGuest: true })), c2);
  assert.ok(r2.kind === 'done' && r2.identity.guest && r2.identity.sessionKey.length === 0);
  const c3 = new ClientAuthenticator({ user: 'Guest', password: 'anything', domain: '', workstation: '' });
  const r3 = run(new ServerAuthenticator(options({ allowGuest: true })), c3);
  assert.ok(r3.kind === 'done' && r3.identity.guest);
  // A wrong password for a known user is never turned into guest.
  const c4 = new ClientAuthenticator({ user: 'alice', password: 'nope', domain: '', workstation: '' });
  assert.equal(run(new ServerAuthenticator(options({ allowGuest: true })), c4).kind, 'fail');
});

test('anonymous logon', () => {
  const client = new ClientAuthenticator({ user: '', domain: '', workstation: '' });
  const r = run(new ServerAuthenticator(options()), client);
  assert.ok(r.kind === 'done' && r.identity.anonymous && r.identity.sessionKey.length === 0);
  const c2 = new ClientAuthenticator({ user: '', domain: '', workstation: '' });
  assert.equal(run(new ServerAuthenticator(options({ allowAnonymous: false })), c2).kind, 'fail');
});

test('raw NTLMSSP (no SPNEGO) works too', () => {
  const server = new ServerAuthenticator(options());
  const client = new NtlmClient({ user: 'alice', password: 'correct horse', domain: 'X' });
  const c = server.step(client.negotiate());
  assert.equal(c.kind, 'continue');
  if (c.kind !== 'continue') return;
  const d = server.step(client.authenticate(c.token));
  assert.ok(d.kind === 'done' && d.token.length === 0);
  if (d.kind === 'done') assert.deepEqual(d.identity.sessionKey, client.exportedSessionKey);
});

test('NTLMv1 and LM-only responses are refused', () => {
  for (const ntLen of [24, 0]) {
    const server = new ServerAuthenticator(options());
    const client = new NtlmClient({ user: 'alice', password: 'correct horse', domain: 'X' });
    const c = server.step(client.negotiate());
    if (c.kind !== 'continue') throw new Error('no challenge');
    const v1 = encodeAuthenticate({
      flags: NegotiateFlags.UNICODE | NegotiateFlags.NTLM,
      lmChallengeResponse: Buffer.alloc(24, 1),
      ntChallengeResponse: Buffer.alloc(ntLen, 2),
      domain: 'X',
      user: 'alice',
      workstation: '',
      encryptedRandomSessionKey: Buffer.alloc(0),
      withMic: false,
    });
    const r = server.step(v1);
    assert.ok(r.kind === 'fail' && r.status === Status.LOGON_FAILURE, JSON.stringify(r));
  }
});

test('a name with no response at all (smbclient -N) is a null session when the name is no account; a known user is refused', () => {
  const noResponse = (user: string, over: Partial<ServerAuthOptions> = {}): AuthStep => {
    const server = new ServerAuthenticator(options(over));
    const client = new NtlmClient({ user: 'alice', password: 'correct horse', domain: 'X' });
    const c = server.step(client.negotiate());
    if (c.kind !== 'continue') throw new Error('no challenge');
    return server.step(
      encodeAuthenticate({
        flags: NegotiateFlags.UNICODE | NegotiateFlags.NTLM,
        lmChallengeResponse: Buffer.alloc(0),
        ntChallengeResponse: Buffer.alloc(0),
        domain: 'WORKGROUP',
        user,
        workstation: 'VM',
        encryptedRandomSessionKey: Buffer.alloc(0),
        withMic: false,
      }),
    );
  };
  const root = noResponse('root');
  assert.ok(root.kind === 'done' && root.identity.anonymous && root.identity.guest && root.identity.sessionKey.length === 0);
  assert.equal(noResponse('root', { allowAnonymous: false }).kind, 'fail');
  const alice = noResponse('alice');
  assert.ok(alice.kind === 'fail' && alice.status === Status.LOGON_FAILURE, 'an account is never logged on without its password');
});

test('a tampered MIC or mechListMIC fails', () => {
  // MIC inside the AUTHENTICATE message.
  {
    const server = new ServerAuthenticator(options());
    const client = new ClientAuthenticator({ user: 'alice', password: 'correct horse', domain: 'W', workstation: '' });
    const c = server.step(client.initial());
    if (c.kind !== 'continue') throw new Error('no challenge');
    const tok = decodeSpnego(client.step(c.token).token);
    if (tok.kind !== 'resp') throw new Error('resp');
    const auth = Buffer.from(tok.responseToken!);
    auth[80] = auth[80]! ^ 1;
    const r = server.step(encodeNegTokenResp({ responseToken: auth, mechListMIC: tok.mechListMIC! }));
    assert.ok(r.kind === 'fail' && /MIC/.test(r.reason), JSON.stringify(r));
  }
  // SPNEGO mechListMIC.
  {
    const server = new ServerAuthenticator(options());
    const client = new ClientAuthenticator({ user: 'alice', password: 'correct horse', domain: 'W', workstation: '' });
    const c = server.step(client.initial());
    if (c.kind !== 'continue') throw new Error('no challenge');
    const tok = decodeSpnego(client.step(c.token).token);
    if (tok.kind !== 'resp') throw new Error('resp');
    const mic = Buffer.from(tok.mechListMIC!);
    mic[5] = mic[5]! ^ 1;
    const r = server.step(encodeNegTokenResp({ responseToken: tok.responseToken!, mechListMIC: mic }));
    assert.ok(r.kind === 'fail' && /mechListMIC/.test(r.reason), JSON.stringify(r));
  }
});

test('Kerberos preferred: the server picks NTLMSSP with request-mic, then needs the mechListMIC', () => {
  const server = new ServerAuthenticator(options());
  const ntlm = new NtlmClient({ user: 'alice', password: 'correct horse', domain: 'W' });
  const first = server.step(encodeNegTokenInit({ mechTypes: [Oid.MS_KERBEROS, Oid.KERBEROS, Oid.NTLMSSP], mechToken: Buffer.from('krb5 ap-req') }));
  assert.equal(first.kind, 'continue');
  if (first.kind !== 'continue') return;
  const t = decodeSpnego(first.token);
  assert.ok(t.kind === 'resp' && t.negState === NegState.REQUEST_MIC && t.supportedMech === Oid.NTLMSSP && t.responseToken === undefined);
  const c = server.step(encodeNegTokenResp({ responseToken: ntlm.negotiate() }));
  if (c.kind !== 'continue') throw new Error(JSON.stringify(c));
  const ct = decodeSpnego(c.token);
  if (ct.kind !== 'resp') throw new Error('resp');
  const auth = ntlm.authenticate(ct.responseToken!);
  const r = server.step(encodeNegTokenResp({ responseToken: auth }));
  assert.ok(r.kind === 'fail' && /mechListMIC required/.test(r.reason));
});

test('no NTLMSSP offered, garbage, and steps after the end all fail without throwing', () => {
  const s1 = new ServerAuthenticator(options());
  assert.equal(s1.step(encodeNegTokenInit({ mechTypes: [Oid.KERBEROS] })).kind, 'fail');
  assert.equal(new ServerAuthenticator(options()).step(Buffer.from('hello')).kind, 'fail');
  assert.equal(new ServerAuthenticator(options()).step(Buffer.alloc(0)).kind, 'fail');
  assert.equal(new ServerAuthenticator(options()).step(spnegoInitToken()).kind, 'continue');
  const s2 = new ServerAuthenticator(options());
  const client = new ClientAuthenticator({ user: 'alice', password: 'correct horse', domain: 'W', workstation: '' });
  assert.equal(run(s2, client).kind, 'done');
  assert.equal(s2.step(Buffer.from('a1023000', 'hex')).kind, 'fail');
});

test('the server role verifies a real Windows AUTHENTICATE (MIC, key exchange) against its CHALLENGE', () => {
  const r1 = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_REQUEST_1, true));
  const c1 = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_RESPONSE_1, false));
  const a1 = decodeSpnego(W.securityBuffer(W.SESSION_SETUP_REQUEST_2, true));
  if (r1.kind !== 'init' || c1.kind !== 'resp' || a1.kind !== 'resp') throw new Error('shape');
  const server = NtlmServer.resume(options(), r1.mechToken!, c1.responseToken!);
  const res = server.authenticate(a1.responseToken!);
  assert.ok(res.ok, JSON.stringify(res));
  if (!res.ok) return;
  assert.deepEqual(res.identity.sessionKey, W.EXPORTED_SESSION_KEY);
  assert.equal(res.identity.domain, 'SUT311');
  // Our server mechListMIC equals the one Windows sent back.
  assert.ok(server.signer('client')!.verify(r1.mechTypesDer, a1.mechListMIC!));
  assert.equal(server.signer('server')!.mac(r1.mechTypesDer).toString('hex'), '010000003b453cdc3524164200000000');
  // The wrong password fails on the same bytes.
  const wrong = NtlmServer.resume(options({ users: new MemoryUserStore().add(W.USER, 'nope') }), r1.mechToken!, c1.responseToken!);
  assert.equal(wrong.authenticate(a1.responseToken!).ok, false);
  assert.equal(decodeAuthenticate(a1.responseToken!).user, W.USER);
});
