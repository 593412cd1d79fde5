/**
 * The client's message layer against a scripted fake server: interim STATUS_PENDING responses are neither a
 * success nor an error, credits flow, a dropped connection fails every pending call, timeouts, and signature checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Connection } from '../../../src/client/connection.js';
import { signMessage } from '../../../src/crypto/signing.js';
import { TransportError } from '../../../src/errors.js';
import { FrameAccumulator, frameHeader } from '../../../src/protocol/framing.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { encodeEchoRequest } from '../../../src/protocol/smb2/commands/echo.js';
import { Command, HeaderFlags, SigningAlgorithm } from '../../../src/protocol/smb2/constants.js';
import { decodeHeader, encodeHeader, type Smb2Header } from '../../../src/protocol/smb2/header.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

type Script = (req: Smb2Header, reply: (h: Partial<Smb2Header>, sign?: Buffer) => void, socket: Socket) => void;

async function fakeServer(script: Script): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    const frames = new FrameAccumulator();
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      frames.push(chunk);
      for (let f = frames.next(); f !== undefined; f = frames.next()) {
        const req = decodeHeader(new Reader(f));
        script(
          req,
          (h, key) => {
            const header: Smb2Header = {
              creditCharge: 1,
              status: 0,
              command: req.command,
              credits: 1,
              flags: HeaderFlags.SERVER_TO_REDIR,
              nextCommand: 0,
              messageId: req.messageId,
              treeId: 0,
              asyncId: 0n,
              sessionId: req.sessionId,
              signature: Buffer.alloc(16),
              ...h,
            };
            const w = new Writer(80);
            encodeHeader(w, header);
            if (header.status === Status.SUCCESS) w.u16(4).u16(0);
            else w.u16(9).u16(0).u32(0).u8(0); // ERROR response
            const msg = Buffer.from(w.finish());
            if (key) {
              msg.writeUInt32LE(header.flags | HeaderFlags.SIGNED, 16);
              signMessage(SigningAlgorithm.HMAC_SHA256, key, msg);
            }
            socket.write(Buffer.concat([frameHeader(msg.length), msg]));
          },
          socket,
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port };
}

const echo = { command: Command.ECHO, body: (w: Writer) => encodeEchoRequest(w) };

test('an interim STATUS_PENDING is not the answer: the call waits for the final response', async () => {
  const { server, port } = await fakeServer((req, reply) => {
    reply({ status: Status.PENDING, flags: HeaderFlags.SERVER_TO_REDIR | HeaderFlags.ASYNC_COMMAND, asyncId: 77n, credits: 3 });
    setTimeout(() => reply({ status: req.messageId % 2n === 0n ? Status.SUCCESS : Status.ACCESS_DENIED, credits: 1 }), 30);
  });
  const conn = await Connection.open({ host: '127.0.0.1', port, timeoutMs: 5000 });
  try {
    const results = await Promise.all([conn.send(echo), conn.send(echo), conn.send(echo), conn.send(echo)]);
    assert.deepEqual(
      results.map((r) => r.status),
      [Status.SUCCESS, Status.ACCESS_DENIED, Status.SUCCESS, Status.ACCESS_DENIED],
    );
    for (const r of results) assert.equal(r.header.flags & HeaderFlags.ASYNC_COMMAND, 0);
    assert.ok(conn.credits >= 4, `credits granted by interim and final responses are kept (${conn.credits})`);
  } finally {
    conn.destroy();
    server.close();
  }
});

test('a connection that drops fails every pending call with a TransportError', async () => {
  let seen = 0;
  const { server, port } = await fakeServer((_req, reply, socket) => {
    seen++;
    if (seen === 1) reply({ credits: 8 });
    if (seen === 3) socket.destroy();
  });
  const conn = await Connection.open({ host: '127.0.0.1', port, timeoutMs: 5000 });
  try {
    await conn.send(echo);
    const a = conn.send(echo);
    const b = conn.send(echo);
    for (const p of [a, b]) {
      await assert.rejects(p, (e: unknown) => e instanceof TransportError && e.code === 'ECONNRESET' && /closed/.test(e.message));
    }
    await assert.rejects(conn.send(echo), TransportError);
  } finally {
    conn.destroy();
    server.close();
  }
});

test('a request with no answer times out with ETIMEDOUT', async () => {
  const { server, port } = await fakeServer(() => {});
  const conn = await Connection.open({ host: '127.0.0.1', port, timeoutMs: 5000 });
  try {
    await assert.rejects(conn.send({ ...echo, timeoutMs: 50 }), (e: unknown) => e instanceof TransportError && e.code === 'ETIMEDOUT');
  } finally {
    conn.destroy();
    server.close();
  }
});

test('a signed session rejects unsigned and wrongly signed responses, and accepts good ones', async () => {
  const key = Buffer.alloc(16, 7);
  let n = 0;
  const { server, port } = await fakeServer((_req, reply) => {
    n++;
    if (n === 1) reply({ credits: 8 }, key);
    else if (n === 2) reply({});
    else reply({}, Buffer.alloc(16, 8));
  });
  const conn = await Connection.open({ host: '127.0.0.1', port, timeoutMs: 5000 });
  conn.setSession(0n, { signingKey: key, encryptionKey: undefined, decryptionKey: undefined, signing: true });
  try {
    assert.equal((await conn.send(echo)).status, Status.SUCCESS);
    await assert.rejects(conn.send(echo), (e: unknown) => e instanceof TransportError && /unsigned/.test(e.message));
    await assert.rejects(conn.send(echo), (e: unknown) => e instanceof TransportError && /signature/.test(e.message));
  } finally {
    conn.destroy();
    server.close();
  }
});

test('connecting to a closed port is a TransportError', async () => {
  const { server, port } = await fakeServer(() => {});
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(Connection.open({ host: '127.0.0.1', port, timeoutMs: 2000 }), TransportError);
});
