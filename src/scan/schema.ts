/**
 * The JSON output schemas of `smbkit scan --json` (smbkit-scan/1) and `smbkit ports --json` (smbkit-ports/1),
 * written once as zod schemas: tests validate real reports against them, and docs/scan-schema.json is their
 * JSON Schema rendering (`smbkit scan --json-schema` prints it).
 */
import { z } from 'zod';
import type { PortsReport } from './ports.js';
import type { HostReport, ScanReport } from './types.js';

const severity = z.enum(['high', 'medium', 'low']);
const addressClass = z.enum(['loopback', 'private', 'link-local', 'public', 'wildcard', 'unknown']);
const dialect = z.enum(['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1']);
const nullableString = z.string().nullable();

export const findingSchema = z.strictObject({
  id: z.string().describe('stable identifier, e.g. smb1-enabled'),
  severity,
  title: z.string(),
  detail: z.string(),
  remedy: z.string().describe('one line: how to fix it'),
});

const algorithm = z.strictObject({ name: z.string(), id: z.number().int(), accepted: z.boolean().nullable() });

const session = z.strictObject({
  accepted: z.boolean().nullable().describe('true: session set up; false: refused; null: not checked or no answer'),
  detail: z.string(),
  flags: z.array(z.enum(['guest', 'null', 'encrypt'])),
  reached: z.array(z.string()).describe('shares a TREE_CONNECT reached with this session'),
});

export const hostSchema = z.strictObject({
  target: z.string(),
  host: z.string(),
  address: nullableString,
  addressClass,
  status: z.enum(['smb', 'not-smb', 'closed', 'unreachable', 'timeout', 'error']),
  summary: z.string(),
  ports: z.array(
    z.strictObject({
      port: z.number().int(),
      role: z.enum(['smb', 'netbios']),
      state: z.enum(['open', 'closed', 'timeout', 'unreachable', 'error', 'not-checked']),
      detail: z.string(),
    }),
  ),
  netbios: z.strictObject({ state: z.string(), detail: z.string() }).nullable(),
  smb1: z
    .strictObject({
      accepted: z.boolean().nullable(),
      state: z.string(),
      detail: z.string(),
      signingEnabled: z.boolean().nullable(),
      signingRequired: z.boolean().nullable(),
    })
    .nullable(),
  dialects: z.array(
    z.strictObject({
      dialect,
      accepted: z.boolean(),
      state: z.string(),
      detail: z.string(),
      signingEnabled: z.boolean().nullable(),
      signingRequired: z.boolean().nullable(),
      capabilities: z.array(z.string()),
    }),
  ),
  maxDialect: dialect.nullable(),
  signing: z.strictObject({ enabled: z.boolean(), required: z.boolean() }).nullable(),
  capabilities: z.array(z.string()),
  serverGuid: nullableString,
  systemTime: nullableString,
  bootTime: nullableString,
  maxReadSize: z.number().int().nullable(),
  maxWriteSize: z.number().int().nullable(),
  maxTransactSize: z.number().int().nullable(),
  mechanisms: z.array(z.string()),
  smb311: z
    .strictObject({ ciphers: z.array(algorithm), signingAlgorithms: z.array(algorithm), compressionAlgorithms: z.array(algorithm) })
    .nullable(),
  ntlm: z
    .strictObject({
      netbiosComputerName: nullableString,
      netbiosDomainName: nullableString,
      dnsComputerName: nullableString,
      dnsDomainName: nullableString,
      dnsTreeName: nullableString,
      targetName: nullableString,
      osVersion: nullableString,
      timestamp: nullableString,
    })
    .nullable(),
  sessions: z.strictObject({ anonymous: session, guest: session }),
  shares: z.strictObject({ checked: z.boolean(), detail: z.string(), names: z.array(z.string()) }),
  findings: z.array(findingSchema),
  elapsedSeconds: z.number(),
});

export const scanReportSchema = z.strictObject({
  schema: z.literal('smbkit-scan/1'),
  startedAt: z.string(),
  finishedAt: z.string(),
  options: z.strictObject({ timeoutMs: z.number().int(), concurrency: z.number().int(), sessions: z.boolean(), shares: z.array(z.string()) }),
  hosts: z.array(hostSchema),
  counts: z.strictObject({ high: z.number().int(), medium: z.number().int(), low: z.number().int() }),
});

export const portsReportSchema = z.strictObject({
  schema: z.literal('smbkit-ports/1'),
  sockets: z.array(
    z.strictObject({
      protocol: z.enum(['tcp', 'udp']),
      family: z.union([z.literal(4), z.literal(6)]),
      address: z.string(),
      port: z.number().int(),
      inode: z.number().int(),
      addressClass,
      pid: z.number().int().nullable(),
      command: nullableString,
    }),
  ),
  findings: z.array(findingSchema.extend({ socket: z.string() })),
  unreadable: z.array(z.string()),
});

// The schemas and the TypeScript types describe the same objects (checked both ways at compile time).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameHost: Same<z.infer<typeof hostSchema>, HostReport> = true;
const sameScan: Same<z.infer<typeof scanReportSchema>, ScanReport> = true;
const samePorts: Same<z.infer<typeof portsReportSchema>, PortsReport> = true;
void sameHost;
void sameScan;
void samePorts;

/** The JSON Schema (draft 2020-12) of both outputs, as docs/scan-schema.json holds it. */
export function outputJsonSchemas(): { scan: unknown; ports: unknown } {
  return { scan: z.toJSONSchema(scanReportSchema), ports: z.toJSONSchema(portsReportSchema) };
}
