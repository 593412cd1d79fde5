/**
 * impacket (Debian's python3-impacket 0.10) as a test client: a JSON job goes to
 * impacket_client.py on stdin, a JSON result comes back. impacket picks the exact
 * dialect through SMBConnection's preferredDialect (2.0.2, 2.1 or 3.0).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './proc.js';

export type ImpacketDialect = '2.0.2' | '2.1' | '3.0';

export type ImpacketOp =
  | { op: 'listShares' }
  | { op: 'listPath'; path?: string; share?: string }
  | { op: 'putFile'; local: string; remote: string; share?: string }
  | { op: 'getFile'; remote: string; local: string; share?: string }
  | { op: 'createDirectory'; path: string; share?: string }
  | { op: 'deleteDirectory'; path: string; share?: string }
  | { op: 'deleteFile'; path: string; share?: string }
  | { op: 'rename'; from: string; to: string; share?: string }
  /** SET_INFO FileFullEaInformation with these EAs (values base64; an empty one deletes). */
  | { op: 'setEas'; path: string; eas: { name: string; value: string }[]; share?: string }
  /** QUERY_INFO FileFullEaInformation from the start (or of just `names`): [{ name, value (base64), flags }]. */
  | { op: 'getEas'; path: string; names?: string[]; share?: string }
  /** QUERY_INFO FileEaInformation: the EaSize. */
  | { op: 'eaSize'; path: string; share?: string }
  /** Opens a named pipe on IPC$ and runs the steps (payloads base64); the value is one ImpacketPipeStep per step. */
  | { op: 'pipe'; name: string; steps: ({ write: string } | { read: number } | { transact: string })[] }
  /** Binds lsarpc on \\pipe\\lsarpc and runs the calls in order (a policy handle is kept between them). */
  | { op: 'lsa'; calls: ImpacketLsaCall[] };

export type ImpacketLsaCall =
  | { call: 'openPolicy' | 'openPolicy2' | 'close' }
  | { call: 'queryInfo' | 'queryInfo2'; level: 3 | 5 | 12 }
  | { call: 'lookupNames'; version: 1 | 2 | 3; names: string[] }
  | { call: 'lookupSids'; version: 1 | 2; sids: string[] }
  | { call: 'getUserName' }
  /** Any opnum with a stub (base64); the value is the response stub. */
  | { call: 'raw'; opnum: number; stub?: string };

export interface ImpacketLsaResult {
  call: ImpacketLsaCall['call'];
  ok: boolean;
  value?: unknown;
  /** The NTSTATUS or fault code of a failed call. */
  code?: number | null;
  message?: string;
}

export interface ImpacketPipeStep {
  ok: boolean;
  /** Bytes written, or the data read / answered (base64). */
  value?: number | string;
  status?: string;
  code?: number | null;
  message?: string;
}

export interface ImpacketJob {
  host: string;
  port?: number;
  user?: string;
  password?: string;
  domain?: string;
  anonymous?: boolean;
  /** Omit to let impacket negotiate the highest it knows. */
  dialect?: ImpacketDialect;
  share?: string;
  ops: ImpacketOp[];
  /** impacket's socket timeout, seconds. */
  timeout?: number;
  /** Include Python tracebacks in errors. */
  debug?: boolean;
}

export interface ImpacketError {
  /** NTSTATUS name as impacket spells it, e.g. STATUS_LOGON_FAILURE, or EXCEPTION. */
  status: string;
  code: number | null;
  message: string;
  trace?: string;
}

export interface ImpacketListEntry {
  name: string;
  size: number;
  isDirectory: boolean;
  attributes: number;
}

export interface ImpacketOpResult {
  op: ImpacketOp['op'];
  ok: boolean;
  value?: unknown;
  status?: string;
  code?: number | null;
  message?: string;
}

export interface ImpacketResult {
  connected: boolean;
  loggedIn: boolean;
  dialect: string | null;
  signing?: boolean;
  error: ImpacketError | null;
  results: ImpacketOpResult[];
}

function scriptPath(): string {
  // Compiled to dist/test/interop/harness/; the .py stays in the source tree.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'impacket_client.py'),
    join(here, '..', '..', '..', '..', 'test', 'interop', 'harness', 'impacket_client.py'),
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`impacket_client.py not found near ${here}`);
}

export async function impacket(job: ImpacketJob, timeoutMs = 120_000): Promise<ImpacketResult> {
  const r = await run('/usr/bin/python3', [scriptPath()], { input: JSON.stringify(job), timeoutMs });
  if (r.timedOut) throw new Error(`impacket job timed out after ${timeoutMs} ms`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`impacket_client.py gave no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  if (typeof parsed === 'object' && parsed !== null && 'fatal' in parsed) {
    throw new Error(`impacket_client.py: ${String((parsed as { fatal: unknown }).fatal)}`);
  }
  return parsed as ImpacketResult;
}

/** The listing value of a listPath result. */
export function listing(res: ImpacketOpResult | undefined): ImpacketListEntry[] {
  if (res === undefined || !res.ok || !Array.isArray(res.value)) return [];
  return res.value as ImpacketListEntry[];
}
