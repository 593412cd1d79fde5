/**
 * Hostile SMB2 input for property tests of running servers: random byte streams, and valid messages (NEGOTIATE,
 * SESSION_SETUP, ECHO, and the file commands of a logged-on session, alone or compounded) with random mutations.
 * `runCase` sends one case on a fresh connection and says whether the server answered, closed it, or hung.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { ClientAuthenticator } from '../../src/auth/spnego-client.js';
import { Status } from '../../src/protocol/nt-status.js';
import { encodeCloseRequest } from '../../src/protocol/smb2/commands/close.js';
import { encodeChangeNotifyRequest } from '../../src/protocol/smb2/commands/change-notify.js';
import { encodeCreateRequest } from '../../src/protocol/smb2/commands/create.js';
import { encodeEchoRequest } from '../../src/protocol/smb2/commands/echo.js';
import { RELATED_FILE_ID, type FileId } from '../../src/protocol/smb2/commands/file-id.js';
import { encodeFlushRequest } from '../../src/protocol/smb2/commands/flush.js';
import { encodeIoctlRequest } from '../../src/protocol/smb2/commands/ioctl.js';
import { encodeNegotiateRequest } from '../../src/protocol/smb2/commands/negotiate.js';
import { encodeQueryDirectoryRequest } from '../../src/protocol/smb2/commands/query-directory.js';
import { encodeQueryInfoRequest } from '../../src/protocol/smb2/commands/query-info.js';
import { encodeReadRequest } from '../../src/protocol/smb2/commands/read.js';
import { encodeSessionSetupRequest } from '../../src/protocol/smb2/commands/session-setup.js';
import { encodeSetInfoRequest } from '../../src/protocol/smb2/commands/set-info.js';
import { encodeTreeConnectRequest } from '../../src/protocol/smb2/commands/tree-connect.js';
import { encodeWriteRequest } from '../../src/protocol/smb2/commands/write.js';
import { chainCompoundBuffers, splitCompound } from '../../src/protocol/smb2/compound.js';
import {
  AccessMask,
  Command,
  CreateDisposition,
  CreateOptions,
  Fsctl,
  HashAlgorithm,
  HeaderFlags,
  SigningAlgorithm,
} from '../../src/protocol/smb2/constants.js';
import { encodeSmb1NegotiateRequest } from '../../src/protocol/smb1/negotiate.js';
import { frameHeader } from '../../src/protocol/framing.js';
import type { Writer } from '../../src/util/writer.js';
import { ConnectionClosedError, RawClient, TEST_PASSWORD, TEST_SHARE, TEST_USER } from './raw-client.js';


// ---- what a case sends ----

interface Template {
  command: number;
  body: (w: Writer) => void;
  /** Extra header flags. */
  flags?: number;
  creditCharge?: number;
}

/** Files a logged-in case can point at. */
interface Handles {
  file: FileId;
  dir: FileId;
}

/** A mutation; positions are fractions `p` of the message length, so one mutation fits any message. */
type Mutation =
  | { kind: 'flip'; p: number; bit: number }
  | { kind: 'truncate'; p: number }
  | { kind: 'field'; p: number; inFixedPart: boolean; size: 1 | 2 | 4 | 8; value: number }
  | { kind: 'header'; offset: number; size: 2 | 4 | 8; value: number }
  | { kind: 'nextCommand'; part: number; value: number }
  | { kind: 'append'; bytes: number[] };

const interesting = fc.oneof(
  fc.constantFrom(0, 1, 2, 7, 8, 24, 63, 64, 65, 72, 0x78, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.nat({ max: 0xffffffff }),
);

const frac = fc.noBias(fc.nat({ max: 0xffff })).map((n) => n / 0x10000);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), p: frac, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), p: frac }),
  fc.record({
    kind: fc.constant('field' as const),
    p: frac,
    inFixedPart: fc.boolean(),
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    value: interesting,
  }),
  fc.record({
    kind: fc.constant('header' as const),
    ...{
      offset: fc.constantFrom(6, 8, 12, 14, 16, 24, 32, 36, 40, 64), // CreditCharge .. SessionId, StructureSize
      size: fc.constantFrom(2 as const, 4 as const, 8 as const),
    },
    value: interesting,
  }),
  fc.record({ kind: fc.constant('nextCommand' as const), part: fc.nat({ max: 3 }), value: fc.oneof(interesting, fc.nat({ max: 64 }).map((n) => n * 8)) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 64 }) }),
);

function applyMutation(msg: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(msg);
  const put = (pos: number, size: number, value: number): void => {
    if (pos < 0 || pos + size > out.length) return;
    if (size === 1) out.writeUInt8(value & 0xff, pos);
    else if (size === 2) out.writeUInt16LE(value & 0xffff, pos);
    else if (size === 4) out.writeUInt32LE(value >>> 0, pos);
    else out.writeBigUInt64LE(BigInt(value >>> 0) * (value % 3 === 0 ? 0x100000001n : 1n), pos);
  };
  const len = out.length;
  switch (m.kind) {
    case 'flip': {
      const pos = Math.floor(m.p * len);
      if (pos < len) out[pos] = out[pos]! ^ (1 << m.bit);
      return out;
    }
    case 'truncate':
      return out.subarray(0, Math.floor(m.p * len));
    case 'field':
      // Body offset/length fields mostly sit in the fixed part right after the header.
      put(m.inFixedPart ? 64 + Math.floor(m.p * Math.max(1, Math.min(len - 64, 64))) : Math.floor(m.p * len), m.size, m.value);
      return out;
    case 'header':
      put(m.offset, m.size, m.value);
      return out;
    case 'nextCommand': {
      // Walk to the m.part-th message of the chain as it stands, then rewrite its NextCommand.
      let start = 0;
      for (let i = 0; i < m.part && start + 64 <= out.length; i++) {
        const next = out.readUInt32LE(start + 20);
        if (next === 0) break;
        start += next;
      }
      put(start + 20, 4, m.value);
      return out;
    }
    case 'append':
      return Buffer.concat([out, Buffer.from(m.bytes)]);
  }
}

/** Signs every part of a (possibly mutated) chain that still splits, as a client holding the key would. */
function resign(c: RawClient, msg: Buffer): void {
  let parts;
  try {
    parts = splitCompound(msg);
  } catch {
    if (msg.length >= 64) c.signIfNeeded(msg.subarray(0, msg.length));
    return;
  }
  for (const p of parts) c.signIfNeeded(msg.subarray(p.start, p.end));
}

// ---- message templates ----

const dialectList = fc.subarray([0x0202, 0x0210, 0x0222, 0x0300, 0x0302, 0x0311, 0x02ff], { minLength: 0 });

function negotiateTemplate(dialects: number[], withContexts: boolean, extraSalt: number): Template {
  return {
    command: Command.NEGOTIATE,
    body: (w) =>
      encodeNegotiateRequest(w, {
        securityMode: 1,
        capabilities: 0x7f,
        clientGuid: randomBytes(16),
        dialects,
        negotiateContexts: withContexts
          ? [
              { kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: randomBytes(extraSalt) },
              { kind: 'encryption', ciphers: [1, 2, 3, 4] },
              { kind: 'signing', signingAlgorithms: [SigningAlgorithm.AES_GMAC, SigningAlgorithm.AES_CMAC] },
              { kind: 'netname', netName: '127.0.0.1' },
            ]
          : [],
      }),
  };
}

function sessionSetupTemplate(): Template {
  const token = new ClientAuthenticator({ user: TEST_USER, password: TEST_PASSWORD }).initial();
  return {
    command: Command.SESSION_SETUP,
    body: (w) => encodeSessionSetupRequest(w, { flags: 0, securityMode: 1, capabilities: 0, channel: 0, previousSessionId: 0n, securityBuffer: token }),
  };
}

const FSCTLS = [
  Fsctl.VALIDATE_NEGOTIATE_INFO,
  Fsctl.PIPE_TRANSCEIVE,
  Fsctl.QUERY_NETWORK_INTERFACE_INFO,
  Fsctl.SRV_REQUEST_RESUME_KEY,
  Fsctl.SRV_COPYCHUNK,
  Fsctl.SRV_COPYCHUNK_WRITE,
  Fsctl.GET_REPARSE_POINT,
  Fsctl.SET_SPARSE,
  Fsctl.SET_ZERO_DATA,
  Fsctl.QUERY_ALLOCATED_RANGES,
  Fsctl.DFS_GET_REFERRALS,
  Fsctl.CREATE_OR_GET_OBJECT_ID,
  Fsctl.SRV_ENUMERATE_SNAPSHOTS,
  0x12345678,
];

/** A valid-looking request of one command, against one of the case's handles (or the related id, or junk). */
const sessionTemplateArb = fc.record({
    which: fc.nat({ max: 12 }),
    target: fc.constantFrom('file', 'dir', 'related', 'junk'),
    n1: fc.nat({ max: 0xffffffff }),
    n2: fc.nat({ max: 70 }),
    n3: fc.nat({ max: 4 }),
    data: fc.array(fc.nat({ max: 255 }), { maxLength: 256 }),
    name: fc.constantFrom('f.txt', 'd', 'd\\x.txt', 'new.txt', '', 'a:s', '..\\x', 'x\u0000y', '*', 'f.txt:stream:$DATA'),
    ctl: fc.constantFrom(...FSCTLS),
  });
type SessionTemplate = typeof sessionTemplateArb extends fc.Arbitrary<infer T> ? T : never;

function sessionTemplates(r: SessionTemplate, h: Handles): Template[] {
    const fid = r.target === 'file' ? h.file : r.target === 'dir' ? h.dir : r.target === 'related' ? RELATED_FILE_ID : { persistent: BigInt(r.n1), volatile: BigInt(r.n2) };
    const data = Buffer.from(r.data);
    const create = (name: string, opts: number, disposition: number): Template => ({
      command: Command.CREATE,
      body: (w) =>
        encodeCreateRequest(
          w,
          RawClient.createRequest(name, {
            createDisposition: disposition,
            createOptions: opts,
            desiredAccess: r.n1 % 2 === 0 ? AccessMask.GENERIC_READ | AccessMask.GENERIC_WRITE | AccessMask.DELETE : r.n1 >>> 0,
          }),
        ),
    });
    const related = HeaderFlags.RELATED_OPERATIONS;
    switch (r.which) {
      case 0:
        return [create(r.name, r.n1 & 0x00ffffff, r.n3 + (r.n2 % 2))];
      case 1:
        return [{ command: Command.READ, body: (w) => encodeReadRequest(w, { padding: 0x50, flags: 0, length: r.n2 * 100, offset: BigInt(r.n1), fileId: fid, minimumCount: 0, channel: 0, remainingBytes: 0, readChannelInfo: Buffer.alloc(0) }) }];
      case 2:
        return [{ command: Command.WRITE, body: (w) => encodeWriteRequest(w, { offset: BigInt(r.n1 % 1_000_000), fileId: fid, channel: 0, remainingBytes: 0, flags: 0, data, writeChannelInfo: Buffer.alloc(0) }) }];
      case 3:
        return [{ command: Command.QUERY_DIRECTORY, body: (w) => encodeQueryDirectoryRequest(w, { fileInformationClass: [1, 2, 3, 12, 37, 38, 60, r.n2][r.n3]!, flags: r.n1 & 0x17, fileIndex: 0, fileId: fid, fileName: r.name || '*', outputBufferLength: r.n1 % 70000 }) }];
      case 4:
        return [{ command: Command.QUERY_INFO, body: (w) => encodeQueryInfoRequest(w, { infoType: 1 + r.n3, fileInfoClass: r.n2, outputBufferLength: r.n1 % 70000, additionalInformation: r.n1 & 0xf, flags: 0, fileId: fid, inputBuffer: data.subarray(0, 32) }) }];
      case 5:
        return [{ command: Command.SET_INFO, body: (w) => encodeSetInfoRequest(w, { infoType: 1 + (r.n3 % 4), fileInfoClass: [4, 10, 13, 14, 16, 19, 20, 64, 65, r.n2][r.n1 % 10]!, additionalInformation: 0, fileId: fid, buffer: data }) }];
      case 6:
        return [{ command: Command.IOCTL, body: (w) => encodeIoctlRequest(w, { ctlCode: r.ctl, fileId: fid, input: data, maxInputResponse: 0, output: Buffer.alloc(0), maxOutputResponse: r.n1 % 70000, flags: 1 }) }];
      case 7:
        return [{ command: Command.CLOSE, body: (w) => encodeCloseRequest(w, { flags: r.n3 & 1, fileId: fid }) }];
      case 8:
        return [{ command: Command.CHANGE_NOTIFY, body: (w) => encodeChangeNotifyRequest(w, { flags: r.n3 & 1, outputBufferLength: r.n1 % 70000, fileId: fid, completionFilter: r.n1 }) }];
      case 9:
        return [{ command: Command.FLUSH, body: (w) => encodeFlushRequest(w, { fileId: fid }) }];
      case 10:
        return [{ command: Command.TREE_CONNECT, body: (w) => encodeTreeConnectRequest(w, { flags: r.n3, path: r.name ? `\\\\h\\${r.name}` : `\\\\h\\${TEST_SHARE}` }) }];
      case 11:
        // CREATE + WRITE + CLOSE, related.
        return [
          create(r.name || 'c.txt', 0, CreateDisposition.OPEN_IF),
          { command: Command.WRITE, flags: related, body: (w) => encodeWriteRequest(w, { offset: 0n, fileId: RELATED_FILE_ID, channel: 0, remainingBytes: 0, flags: 0, data, writeChannelInfo: Buffer.alloc(0) }) },
          { command: Command.CLOSE, flags: related, body: (w) => encodeCloseRequest(w, { flags: 1, fileId: RELATED_FILE_ID }) },
        ];
      default:
        // CREATE + QUERY_INFO + QUERY_DIRECTORY + CLOSE, related, on a directory.
        return [
          create('d', CreateOptions.DIRECTORY_FILE, CreateDisposition.OPEN_IF),
          { command: Command.QUERY_INFO, flags: related, body: (w) => encodeQueryInfoRequest(w, { infoType: 1, fileInfoClass: r.n2, outputBufferLength: 4096, additionalInformation: 0, flags: 0, fileId: RELATED_FILE_ID, inputBuffer: Buffer.alloc(0) }) },
          { command: Command.QUERY_DIRECTORY, flags: related, body: (w) => encodeQueryDirectoryRequest(w, { fileInformationClass: 37, flags: 0, fileIndex: 0, fileId: RELATED_FILE_ID, fileName: '*', outputBufferLength: 8192 }) },
          { command: Command.CLOSE, flags: related, body: (w) => encodeCloseRequest(w, { flags: 0, fileId: RELATED_FILE_ID }) },
        ];
    }
}

export type Case =
  | { kind: 'raw'; bytes: number[]; framed: boolean }
  | { kind: 'fresh'; template: number; dialects: number[]; contexts: boolean; salt: number; mutations: Mutation[] }
  | { kind: 'session'; dialect: number; make: SessionTemplate; mutations: Mutation[]; resign: boolean };

export const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 400 }), framed: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fresh' as const),
      template: fc.nat({ max: 3 }),
      dialects: dialectList,
      contexts: fc.boolean(),
      salt: fc.nat({ max: 40 }),
      mutations: fc.array(mutationArb, { maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('session' as const),
      dialect: fc.constantFrom(0x0202, 0x0210, 0x0300, 0x0311, 0x0311),
      make: sessionTemplateArb,
      mutations: fc.array(mutationArb, { maxLength: 3 }),
      resign: fc.nat({ max: 3 }).map((n) => n > 0),
    }),
  },
);

/** Runs one case; resolves 'answered', 'closed' or 'hung'. */
export async function runCase(c: RawClient, k: Case, login: { user: string; password: string; share: string }): Promise<'answered' | 'closed' | 'hung'> {
  if (k.kind === 'raw') {
    const bytes = Buffer.from(k.bytes);
    c.sendRaw(k.framed ? Buffer.concat([frameHeader(bytes.length), bytes]) : bytes);
    // An incomplete frame legitimately waits for more bytes: end the stream, then the server must close.
    c.end();
    return (await c.waitClosed(10_000)) ? 'closed' : 'hung';
  }
  let templates: Template[];
  const mutations = k.mutations;
  if (k.kind === 'fresh') {
    if (k.template === 3) {
      // SMB1 NEGOTIATE, mutated.
      let msg: Buffer = encodeSmb1NegotiateRequest(k.dialects.length % 2 ? ['NT LM 0.12', 'SMB 2.002', 'SMB 2.???'] : ['NT LM 0.12']);
      for (const m of mutations) msg = applyMutation(msg, m);
      c.nextMessageId = 1n;
      c.sendFrame(msg);
      return followUp(c);
    }
    templates =
      k.template === 0
        ? [negotiateTemplate(k.dialects, k.contexts, k.salt)]
        : k.template === 1
          ? [sessionSetupTemplate()]
          : [{ command: Command.ECHO, body: (w) => encodeEchoRequest(w) }];
    if (k.template === 1) {
      const neg = await c.negotiate([0x0202, 0x0210, 0x0300, 0x0311]);
      if (neg.status !== Status.SUCCESS) throw new Error('seed negotiate failed');
    }
  } else {
    await c.login(login.user, login.password, login.share, [k.dialect]);
    const file = await c.create('f.txt', { createDisposition: CreateDisposition.OPEN });
    const dir = await c.create('d', { createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE });
    await c.ensureCredits(16);
    templates = sessionTemplates(k.make, { file: file.fileId, dir: dir.fileId });
  }
  const built = templates.map((t) =>
    c.build(t.command, t.body, { ...(t.flags !== undefined ? { flags: t.flags } : {}), ...(t.creditCharge !== undefined ? { creditCharge: t.creditCharge } : {}) }).message,
  );
  let msg: Buffer = Buffer.concat(chainCompoundBuffers(built));
  for (const m of mutations) msg = applyMutation(msg, m);
  if (k.kind === 'session' && k.resign) resign(c, msg);
  c.sendFrame(msg);
  return followUp(c);
}

/**
 * After the mutated message, a valid ECHO: the server must answer something or close the connection (an ECHO
 * with a message id the mutated request took, or before NEGOTIATE, legitimately closes it).
 */
async function followUp(c: RawClient): Promise<'answered' | 'closed' | 'hung'> {
  try {
    await c.echo({ timeoutMs: 10_000 });
    return 'answered';
  } catch (err) {
    if (err instanceof ConnectionClosedError || c.closed) return 'closed';
    return 'hung';
  }
}
