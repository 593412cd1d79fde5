import { Reader } from '../../../src/util/reader.js';
import type { Writer } from '../../../src/util/writer.js';
import * as cancel from '../../../src/protocol/smb2/commands/cancel.js';
import * as changeNotify from '../../../src/protocol/smb2/commands/change-notify.js';
import * as close from '../../../src/protocol/smb2/commands/close.js';
import * as create from '../../../src/protocol/smb2/commands/create.js';
import * as echo from '../../../src/protocol/smb2/commands/echo.js';
import * as error from '../../../src/protocol/smb2/commands/error.js';
import * as flush from '../../../src/protocol/smb2/commands/flush.js';
import * as ioctl from '../../../src/protocol/smb2/commands/ioctl.js';
import * as lock from '../../../src/protocol/smb2/commands/lock.js';
import * as logoff from '../../../src/protocol/smb2/commands/logoff.js';
import * as negotiate from '../../../src/protocol/smb2/commands/negotiate.js';
import * as oplockBreak from '../../../src/protocol/smb2/commands/oplock-break.js';
import * as queryDirectory from '../../../src/protocol/smb2/commands/query-directory.js';
import * as queryInfo from '../../../src/protocol/smb2/commands/query-info.js';
import * as read from '../../../src/protocol/smb2/commands/read.js';
import * as sessionSetup from '../../../src/protocol/smb2/commands/session-setup.js';
import * as setInfo from '../../../src/protocol/smb2/commands/set-info.js';
import * as treeConnect from '../../../src/protocol/smb2/commands/tree-connect.js';
import * as treeDisconnect from '../../../src/protocol/smb2/commands/tree-disconnect.js';
import * as write from '../../../src/protocol/smb2/commands/write.js';
import * as transform from '../../../src/protocol/smb2/transform.js';
import {
  encodeDurableHandleRequestV2,
  encodeLease,
  encodeMaximalAccessResponse,
  encodeQueryOnDiskIdResponse,
} from '../../../src/protocol/smb2/contexts/create-contexts.js';

/** One codec and a message for it: used by the round-trip tests and as seeds for the property tests. */
export interface Sample {
  name: string;
  direction: 'request' | 'response';
  encode: (w: Writer, m: any) => void;
  decode: (r: Reader) => unknown;
  message: unknown;
}

const fid = { persistent: 0x1122334455667788n, volatile: 0xffeeddccbbaa9988n };
const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

export const SAMPLES: Sample[] = [
  {
    name: 'ERROR response',
    direction: 'response',
    encode: error.encodeErrorResponse,
    decode: error.decodeErrorResponse,
    message: { errorContextCount: 0, data: bytes(12) },
  },
  {
    name: 'NEGOTIATE request 3.1.1',
    direction: 'request',
    encode: negotiate.encodeNegotiateRequest,
    decode: negotiate.decodeNegotiateRequest,
    message: {
      securityMode: 1,
      capabilities: 0x7f,
      clientGuid: guid,
      dialects: [0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
      negotiateContexts: [
        { kind: 'preauthIntegrity', hashAlgorithms: [1], salt: bytes(32) },
        { kind: 'encryption', ciphers: [4, 2, 3, 1] },
        { kind: 'compression', flags: 1, compressionAlgorithms: [2, 4] },
        { kind: 'netname', netName: 'server1' },
        { kind: 'transport', flags: 1 },
        { kind: 'rdmaTransform', transformIds: [1] },
        { kind: 'signing', signingAlgorithms: [2, 1, 0] },
        { kind: 'unknown', type: 0x99, data: bytes(5) },
      ],
    },
  },
  {
    name: 'NEGOTIATE request 2.x',
    direction: 'request',
    encode: negotiate.encodeNegotiateRequest,
    decode: negotiate.decodeNegotiateRequest,
    message: { securityMode: 2, capabilities: 0, clientGuid: guid, dialects: [0x0202, 0x0210], negotiateContexts: [] },
  },
  {
    name: 'NEGOTIATE response 3.1.1',
    direction: 'response',
    encode: negotiate.encodeNegotiateResponse,
    decode: negotiate.decodeNegotiateResponse,
    message: {
      securityMode: 1,
      dialectRevision: 0x0311,
      serverGuid: guid,
      capabilities: 0x2f,
      maxTransactSize: 8388608,
      maxReadSize: 8388608,
      maxWriteSize: 8388608,
      systemTime: 133000000000000000n,
      serverStartTime: 0n,
      securityBuffer: bytes(74),
      negotiateContexts: [
        { kind: 'preauthIntegrity', hashAlgorithms: [1], salt: bytes(32, 3) },
        { kind: 'encryption', ciphers: [2] },
        { kind: 'signing', signingAlgorithms: [1] },
      ],
    },
  },
  {
    name: 'NEGOTIATE response 2.1 no token',
    direction: 'response',
    encode: negotiate.encodeNegotiateResponse,
    decode: negotiate.decodeNegotiateResponse,
    message: {
      securityMode: 3,
      dialectRevision: 0x0210,
      serverGuid: guid,
      capabilities: 0,
      maxTransactSize: 65536,
      maxReadSize: 65536,
      maxWriteSize: 65536,
      systemTime: 1n,
      serverStartTime: 2n,
      securityBuffer: Buffer.alloc(0),
      negotiateContexts: [],
    },
  },
  {
    name: 'SESSION_SETUP request',
    direction: 'request',
    encode: sessionSetup.encodeSessionSetupRequest,
    decode: sessionSetup.decodeSessionSetupRequest,
    message: { flags: 1, securityMode: 1, capabilities: 1, channel: 0, previousSessionId: 0x1234n, securityBuffer: bytes(90) },
  },
  {
    name: 'SESSION_SETUP response',
    direction: 'response',
    encode: sessionSetup.encodeSessionSetupResponse,
    decode: sessionSetup.decodeSessionSetupResponse,
    message: { sessionFlags: 1, securityBuffer: bytes(9) },
  },
  { name: 'LOGOFF request', direction: 'request', encode: logoff.encodeLogoffRequest, decode: logoff.decodeLogoffRequest, message: {} },
  { name: 'LOGOFF response', direction: 'response', encode: logoff.encodeLogoffResponse, decode: logoff.decodeLogoffResponse, message: {} },
  {
    name: 'TREE_CONNECT request',
    direction: 'request',
    encode: treeConnect.encodeTreeConnectRequest,
    decode: treeConnect.decodeTreeConnectRequest,
    message: { flags: 0, path: '\\\\127.0.0.1\\share' },
  },
  {
    name: 'TREE_CONNECT response',
    direction: 'response',
    encode: treeConnect.encodeTreeConnectResponse,
    decode: treeConnect.decodeTreeConnectResponse,
    message: { shareType: 1, shareFlags: 0x800, capabilities: 0, maximalAccess: 0x1f01ff },
  },
  {
    name: 'TREE_DISCONNECT request',
    direction: 'request',
    encode: treeDisconnect.encodeTreeDisconnectRequest,
    decode: treeDisconnect.decodeTreeDisconnectRequest,
    message: {},
  },
  {
    name: 'TREE_DISCONNECT response',
    direction: 'response',
    encode: treeDisconnect.encodeTreeDisconnectResponse,
    decode: treeDisconnect.decodeTreeDisconnectResponse,
    message: {},
  },
  {
    name: 'CREATE request',
    direction: 'request',
    encode: create.encodeCreateRequest,
    decode: create.decodeCreateRequest,
    message: {
      securityFlags: 0,
      requestedOplockLevel: 0xff,
      impersonationLevel: 2,
      smbCreateFlags: 0n,
      desiredAccess: 0x0012019f,
      fileAttributes: 0x80,
      shareAccess: 7,
      createDisposition: 3,
      createOptions: 0x40,
      name: 'dir\\fïle.txt',
      createContexts: [
        { name: 'DH2Q', data: encodeDurableHandleRequestV2({ timeout: 0, flags: 0, createGuid: guid }) },
        { name: 'MxAc', data: Buffer.alloc(0) },
        { name: 'QFid', data: Buffer.alloc(0) },
        {
          name: 'RqLs',
          data: encodeLease({ version: 2, leaseKey: guid, leaseState: 7, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: bytes(16), epoch: 3 }),
        },
        { name: Buffer.from('45bca66aefa7f74a9008fa462e144d74', 'hex').toString('latin1'), data: bytes(20) },
      ],
    },
  },
  {
    name: 'CREATE request (root, no contexts)',
    direction: 'request',
    encode: create.encodeCreateRequest,
    decode: create.decodeCreateRequest,
    message: {
      securityFlags: 0,
      requestedOplockLevel: 0,
      impersonationLevel: 2,
      smbCreateFlags: 0n,
      desiredAccess: 0x00100081,
      fileAttributes: 0,
      shareAccess: 7,
      createDisposition: 1,
      createOptions: 1,
      name: '',
      createContexts: [],
    },
  },
  {
    name: 'CREATE response',
    direction: 'response',
    encode: create.encodeCreateResponse,
    decode: create.decodeCreateResponse,
    message: {
      oplockLevel: 0xff,
      flags: 0,
      createAction: 2,
      creationTime: 133000000000000001n,
      lastAccessTime: 133000000000000002n,
      lastWriteTime: 133000000000000003n,
      changeTime: 133000000000000004n,
      allocationSize: 4096n,
      endOfFile: 10n,
      fileAttributes: 0x20,
      fileId: fid,
      createContexts: [
        { name: 'MxAc', data: encodeMaximalAccessResponse({ queryStatus: 0, maximalAccess: 0x1f01ff }) },
        { name: 'QFid', data: encodeQueryOnDiskIdResponse({ diskFileId: 42n, volumeId: 7n }) },
      ],
    },
  },
  { name: 'CLOSE request', direction: 'request', encode: close.encodeCloseRequest, decode: close.decodeCloseRequest, message: { flags: 1, fileId: fid } },
  {
    name: 'CLOSE response',
    direction: 'response',
    encode: close.encodeCloseResponse,
    decode: close.decodeCloseResponse,
    message: {
      flags: 1,
      creationTime: 1n,
      lastAccessTime: 2n,
      lastWriteTime: 3n,
      changeTime: 4n,
      allocationSize: 5n,
      endOfFile: 6n,
      fileAttributes: 0x10,
    },
  },
  { name: 'FLUSH request', direction: 'request', encode: flush.encodeFlushRequest, decode: flush.decodeFlushRequest, message: { fileId: fid } },
  { name: 'FLUSH response', direction: 'response', encode: flush.encodeFlushResponse, decode: flush.decodeFlushResponse, message: {} },
  {
    name: 'READ request',
    direction: 'request',
    encode: read.encodeReadRequest,
    decode: read.decodeReadRequest,
    message: {
      padding: 0x50,
      flags: 0,
      length: 65536,
      offset: 1n << 40n,
      fileId: fid,
      minimumCount: 1,
      channel: 0,
      remainingBytes: 0,
      readChannelInfo: Buffer.alloc(0),
    },
  },
  {
    name: 'READ response',
    direction: 'response',
    encode: read.encodeReadResponse,
    decode: read.decodeReadResponse,
    message: { dataRemaining: 0, flags: 0, data: bytes(100) },
  },
  {
    name: 'WRITE request',
    direction: 'request',
    encode: write.encodeWriteRequest,
    decode: write.decodeWriteRequest,
    message: { offset: 12345n, fileId: fid, channel: 0, remainingBytes: 0, flags: 1, data: bytes(300), writeChannelInfo: Buffer.alloc(0) },
  },
  { name: 'WRITE response', direction: 'response', encode: write.encodeWriteResponse, decode: write.decodeWriteResponse, message: { count: 300, remaining: 0 } },
  { name: 'ECHO request', direction: 'request', encode: echo.encodeEchoRequest, decode: echo.decodeEchoRequest, message: {} },
  { name: 'ECHO response', direction: 'response', encode: echo.encodeEchoResponse, decode: echo.decodeEchoResponse, message: {} },
  { name: 'CANCEL request', direction: 'request', encode: cancel.encodeCancelRequest, decode: cancel.decodeCancelRequest, message: {} },
  {
    name: 'QUERY_DIRECTORY request',
    direction: 'request',
    encode: queryDirectory.encodeQueryDirectoryRequest,
    decode: queryDirectory.decodeQueryDirectoryRequest,
    message: { fileInformationClass: 0x25, flags: 1, fileIndex: 0, fileId: fid, fileName: '*', outputBufferLength: 65536 },
  },
  {
    name: 'QUERY_DIRECTORY response',
    direction: 'response',
    encode: queryDirectory.encodeQueryDirectoryResponse,
    decode: queryDirectory.decodeQueryDirectoryResponse,
    message: { outputBuffer: bytes(200) },
  },
  {
    name: 'QUERY_INFO request',
    direction: 'request',
    encode: queryInfo.encodeQueryInfoRequest,
    decode: queryInfo.decodeQueryInfoRequest,
    message: { infoType: 1, fileInfoClass: 0x12, outputBufferLength: 4096, additionalInformation: 0, flags: 0, fileId: fid, inputBuffer: bytes(8) },
  },
  {
    name: 'QUERY_INFO response',
    direction: 'response',
    encode: queryInfo.encodeQueryInfoResponse,
    decode: queryInfo.decodeQueryInfoResponse,
    message: { outputBuffer: bytes(40) },
  },
  {
    name: 'SET_INFO request',
    direction: 'request',
    encode: setInfo.encodeSetInfoRequest,
    decode: setInfo.decodeSetInfoRequest,
    message: { infoType: 1, fileInfoClass: 4, additionalInformation: 0, fileId: fid, buffer: bytes(40) },
  },
  { name: 'SET_INFO response', direction: 'response', encode: setInfo.encodeSetInfoResponse, decode: setInfo.decodeSetInfoResponse, message: {} },
  {
    name: 'IOCTL request',
    direction: 'request',
    encode: ioctl.encodeIoctlRequest,
    decode: ioctl.decodeIoctlRequest,
    message: {
      ctlCode: 0x00140204,
      fileId: { persistent: 0xffffffffffffffffn, volatile: 0xffffffffffffffffn },
      input: bytes(34),
      maxInputResponse: 0,
      output: Buffer.alloc(0),
      maxOutputResponse: 24,
      flags: 1,
    },
  },
  {
    name: 'IOCTL response',
    direction: 'response',
    encode: ioctl.encodeIoctlResponse,
    decode: ioctl.decodeIoctlResponse,
    message: { ctlCode: 0x0011c017, fileId: fid, input: bytes(3), output: bytes(24), flags: 0 },
  },
  {
    name: 'LOCK request',
    direction: 'request',
    encode: lock.encodeLockRequest,
    decode: lock.decodeLockRequest,
    message: {
      lockSequenceNumber: 5,
      lockSequenceIndex: 12,
      fileId: fid,
      locks: [
        { offset: 0n, length: 10n, flags: 2 },
        { offset: 100n, length: 0xffffffffffffffffn, flags: 0x11 },
      ],
    },
  },
  { name: 'LOCK response', direction: 'response', encode: lock.encodeLockResponse, decode: lock.decodeLockResponse, message: {} },
  {
    name: 'CHANGE_NOTIFY request',
    direction: 'request',
    encode: changeNotify.encodeChangeNotifyRequest,
    decode: changeNotify.decodeChangeNotifyRequest,
    message: { flags: 1, outputBufferLength: 4096, fileId: fid, completionFilter: 0x17 },
  },
  {
    name: 'CHANGE_NOTIFY response',
    direction: 'response',
    encode: changeNotify.encodeChangeNotifyResponse,
    decode: changeNotify.decodeChangeNotifyResponse,
    message: { outputBuffer: bytes(32) },
  },
  {
    name: 'OPLOCK_BREAK ack (oplock)',
    direction: 'request',
    encode: oplockBreak.encodeOplockBreakRequest,
    decode: oplockBreak.decodeOplockBreakRequest,
    message: { kind: 'oplock', oplockLevel: 1, fileId: fid },
  },
  {
    name: 'OPLOCK_BREAK ack (lease)',
    direction: 'request',
    encode: oplockBreak.encodeOplockBreakRequest,
    decode: oplockBreak.decodeOplockBreakRequest,
    message: { kind: 'lease', flags: 0, leaseKey: guid, leaseState: 1, leaseDuration: 0n },
  },
  {
    name: 'OPLOCK_BREAK response (oplock)',
    direction: 'response',
    encode: oplockBreak.encodeOplockBreakResponse,
    decode: oplockBreak.decodeOplockBreakResponse,
    message: { kind: 'oplock', oplockLevel: 0, fileId: fid },
  },
  {
    name: 'OPLOCK_BREAK response (lease)',
    direction: 'response',
    encode: oplockBreak.encodeOplockBreakResponse,
    decode: oplockBreak.decodeOplockBreakResponse,
    message: { kind: 'lease', flags: 0, leaseKey: guid, leaseState: 3, leaseDuration: 0n },
  },
  {
    name: 'OPLOCK_BREAK lease break notification',
    direction: 'response',
    encode: oplockBreak.encodeOplockBreakResponse,
    decode: oplockBreak.decodeOplockBreakResponse,
    message: {
      kind: 'leaseBreakNotification',
      newEpoch: 2,
      flags: 1,
      leaseKey: guid,
      currentLeaseState: 7,
      newLeaseState: 1,
      breakReason: 0,
      accessMaskHint: 0,
      shareMaskHint: 0,
    },
  },
  {
    name: 'TRANSFORM header',
    direction: 'response',
    encode: transform.encodeTransformHeader,
    decode: transform.decodeTransformHeader,
    message: { signature: bytes(16), nonce: bytes(16, 9), originalMessageSize: 1234, flags: 1, sessionId: 0x1000000001n },
  },
];

export { Reader };
