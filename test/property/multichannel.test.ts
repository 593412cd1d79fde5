/**
 * Property test of session binding on the running server: random sequences of connections joining a session (with
 * the right or a wrong password, or with the session's key spoiled), connections dropping, and requests on random
 * connections. The model: a session lives while one of its usable channels does, every live channel serves its
 * open file, and the server's tables agree (each connection lists exactly the sessions it is a channel of).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { Dialect } from '../../src/protocol/smb2/constants.js';
import { RawClient, startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER } from '../support/raw-client.js';

type Op = { kind: 'bind'; password: 'right' | 'wrong'; spoilKey: boolean } | { kind: 'drop'; index: number } | { kind: 'read'; index: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('bind' as const), password: fc.constantFrom('right' as const, 'wrong' as const), spoilKey: fc.boolean() }),
  fc.record({ kind: fc.constant('drop' as const), index: fc.nat(7) }),
  fc.record({ kind: fc.constant('read' as const), index: fc.nat(7) }),
);

test('session binding: the session lives exactly as long as a bound channel, and every channel serves it', async () => {
  const srv = await startTestServer({ multichannel: true });
  const boundChannels = (id: bigint): number => srv.server.sessions.get(id)?.channels.filter((ch) => ch.binding === undefined).length ?? 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(Dialect.SMB300, Dialect.SMB311), fc.array(op, { minLength: 1, maxLength: 8 }), async (dialect, ops) => {
        const first = await srv.connect();
        await first.login(TEST_USER, TEST_PASSWORD, TEST_SHARE, [dialect]);
        const session = first.sessionKeyOf()!;
        const file = await first.create(`p-${session.id.toString(16)}.txt`);
        assert.equal(file.status, Status.SUCCESS);
        assert.equal((await first.write(file.fileId, 0, Buffer.from('x'))).status, Status.SUCCESS);
        const channels: RawClient[] = [first];
        const others: RawClient[] = [];
        try {
          for (const o of ops) {
            const alive = srv.server.sessions.has(session.id);
            if (o.kind === 'bind') {
              const c = await srv.connect();
              others.push(c);
              await c.negotiate([dialect]);
              const key = o.spoilKey ? { ...session, key: Buffer.alloc(session.key.length, 0x5a) } : session;
              const res = await c.bindSession(TEST_USER, o.password === 'right' ? TEST_PASSWORD : 'not it', key);
              const expected = !alive ? Status.USER_SESSION_DELETED : o.spoilKey ? Status.ACCESS_DENIED : o.password === 'right' ? Status.SUCCESS : Status.LOGON_FAILURE;
              assert.equal(res.status, expected, JSON.stringify(o));
              if (res.status === Status.SUCCESS) {
                c.treeId = first.treeId;
                channels.push(c);
              }
            } else if (o.kind === 'drop' && channels.length > 0) {
              const [c] = channels.splice(o.index % channels.length, 1);
              c!.destroy();
              await c!.waitClosed();
              // The server notices the lost connection on its own time: wait (bounded) until it has.
              for (let i = 0; i < 200 && boundChannels(session.id) !== channels.length; i++) await new Promise((r) => setTimeout(r, 10));
            } else if (o.kind === 'read' && channels.length > 0) {
              const c = channels[o.index % channels.length]!;
              const r = await c.read(file.fileId, 0, 1);
              assert.equal(r.status, Status.SUCCESS);
              assert.equal(r.response.signatureValid, true);
            }
            const s = srv.server.sessions.get(session.id);
            assert.equal(s !== undefined, channels.length > 0, 'the session lives while a bound channel does');
            if (s) {
              assert.equal(s.channels.filter((ch) => ch.binding === undefined).length, channels.length);
              for (const ch of s.channels) assert.equal(ch.connection.sessions.get(s.id), s);
            }
          }
        } finally {
          for (const c of [...channels, ...others]) c.destroy();
        }
      }),
      { numRuns: 25 },
    );
    for (let i = 0; i < 200 && srv.server.sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(srv.server.sessions.size, 0, 'no session outlives its connections');
  } finally {
    await srv.stop();
  }
});
