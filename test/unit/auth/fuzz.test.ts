import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ServerAuthenticator } from '../../../src/auth/spnego-server.js';
import { ClientAuthenticator } from '../../../src/auth/spnego-client.js';
import { MemoryUserStore } from '../../../src/auth/users.js';
import type { ServerAuthOptions } from '../../../src/auth/spnego-server.js';
import * as W from './windows-capture.js';

const opts: ServerAuthOptions = {
  users: new MemoryUserStore().add('alice', 'pw'),
  netbiosName: 'S',
  netbiosDomain: 'D',
  dnsName: 's.d',
  dnsDomain: 'd',
  allowGuest: true,
  allowAnonymous: true,
};

function validTokens(): Buffer[] {
  const server = new ServerAuthenticator(opts);
  const client = new ClientAuthenticator({ user: 'alice', password: 'pw', domain: 'D', workstation: 'W' });
  const t1 = client.initial();
  const r = server.step(t1);
  if (r.kind !== 'continue') throw new Error('setup');
  return [t1, client.step(r.token).token, W.securityBuffer(W.SESSION_SETUP_REQUEST_1, true), W.securityBuffer(W.SESSION_SETUP_REQUEST_2, true)];
}

function mutate(base: Buffer, edits: { at: number; value: number }[], cut: number): Buffer {
  const b = Buffer.from(base.subarray(0, Math.max(0, base.length - cut)));
  for (const e of edits) if (b.length > 0) b[e.at % b.length] = e.value;
  return b;
}

test('random tokens never make ServerAuthenticator.step throw', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 3 }), (tokens) => {
      const s = new ServerAuthenticator(opts);
      for (const t of tokens) {
        const r = s.step(Buffer.from(t));
        assert.ok(r.kind === 'fail' || r.kind === 'continue' || r.kind === 'done');
      }
    }),
    { numRuns: 500 },
  );
});

test('mutated real tokens never make ServerAuthenticator.step throw, and never succeed as anyone', () => {
  const tokens = validTokens();
  const edit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), fc.nat({ max: 8 }), fc.nat({ max: 3 }), (edits, cut, which) => {
      const s = new ServerAuthenticator(opts);
      const first = s.step(mutate(tokens[which === 1 ? 0 : which]!, edits, cut));
      assert.ok(['fail', 'continue', 'done'].includes(first.kind));
      if (first.kind === 'continue') {
        const second = s.step(mutate(tokens[1]!, edits, cut));
        // The second token answers another challenge: it can only fail (or be a guest/anonymous logon).
        if (second.kind === 'done') assert.ok(second.identity.guest || second.identity.anonymous);
      }
    }),
    { numRuns: 1000 },
  );
});

test('any changed byte in the AUTHENTICATE step of a real exchange fails it', () => {
  const edit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
      const s = new ServerAuthenticator({ ...opts, allowGuest: false });
      const client = new ClientAuthenticator({ user: 'alice', password: 'pw', domain: 'D', workstation: 'W' });
      const r = s.step(client.initial());
      if (r.kind !== 'continue') throw new Error('setup');
      const orig = client.step(r.token).token;
      const changed = mutate(orig, edits, 0);
      const out = s.step(changed);
      if (!changed.equals(orig)) assert.equal(out.kind, 'fail');
    }),
    { numRuns: 1000 },
  );
});
