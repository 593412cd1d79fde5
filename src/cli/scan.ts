import { failsAt, isSeverity } from '../scan/findings.js';
import { formatScan, styleFor } from '../scan/report.js';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS, scan } from '../scan/scan.js';
import { DEFAULT_MAX_ADDRESSES, TargetError, parseTargets } from '../scan/targets.js';
import { parseCommandArgs, UsageError } from './main.js';

const HELP = `usage: smbkit scan [options] TARGET...

Probes SMB servers for exposure: ports 445 and 139, the NetBIOS session service, SMB1, each SMB2/3 dialect,
signing, 3.1.1 ciphers/signing/compression, capabilities, the NTLM target info, anonymous and guest sessions.
Scan only hosts you are allowed to test.

TARGET   a host name, an address, host:port ([v6]:port; only that port is probed), or a CIDR range
options:
  --json               the report as JSON (schema smbkit-scan/1, docs/scan-schema.md)
  --fail-on SEVERITY   exit with code 3 when a finding of SEVERITY (high, medium, low) or above exists
  --timeout MS         per-probe timeout (default ${DEFAULT_TIMEOUT_MS})
  --concurrency N      hosts scanned at once (default ${DEFAULT_CONCURRENCY})
  --max-hosts N        largest number of addresses the targets may hold (default ${DEFAULT_MAX_ADDRESSES})
  --share NAME         also try a tree connect to NAME with anonymous/guest sessions (repeatable)
  --no-sessions        do not try anonymous or guest sessions
  --json-schema        print the JSON Schema of the --json output of scan and ports, and exit
exit codes: 0 done, 1 failure, 2 usage error, 3 a finding at or above --fail-on
`;

/** Exit code when --fail-on matched (documented in the help and docs/scan-schema.md). */
export const EXIT_FINDINGS = 3;

function positiveInt(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer`);
  return n;
}

/** `smbkit scan ...` */
export async function runScan(argv: string[]): Promise<void> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        'fail-on': { type: 'string' },
        timeout: { type: 'string' },
        concurrency: { type: 'string' },
        'max-hosts': { type: 'string' },
        share: { type: 'string', multiple: true },
        'no-sessions': { type: 'boolean' },
        'json-schema': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    HELP,
  );
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values['json-schema']) {
    const { outputJsonSchemas } = await import('../scan/schema.js');
    process.stdout.write(JSON.stringify(outputJsonSchemas(), null, 2) + '\n');
    return;
  }
  const failOn = values['fail-on'];
  if (failOn !== undefined && !isSeverity(failOn)) throw new UsageError('--fail-on takes high, medium or low');
  const timeoutMs = positiveInt(values.timeout, '--timeout', DEFAULT_TIMEOUT_MS);
  const concurrency = positiveInt(values.concurrency, '--concurrency', DEFAULT_CONCURRENCY);
  const cap = positiveInt(values['max-hosts'], '--max-hosts', DEFAULT_MAX_ADDRESSES);
  if (positionals.length === 0) throw new UsageError(`scan needs at least one target\n${HELP}`);
  let targets;
  try {
    targets = parseTargets(positionals, cap);
  } catch (e) {
    if (e instanceof TargetError) throw new UsageError(e.message);
    throw e;
  }
  const progress = !values.json && process.stderr.isTTY === true && targets.length > 1;
  const report = await scan(targets, {
    timeoutMs,
    concurrency,
    sessions: values['no-sessions'] !== true,
    shares: values.share ?? [],
    onHost: progress
      ? (done, total, h) => {
          process.stderr.write(`\r\x1b[K${done}/${total} scanned (${h.host}: ${h.status})`);
          if (done === total) process.stderr.write('\r\x1b[K');
        }
      : undefined,
  });
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    process.stdout.write(formatScan(report, styleFor(process.stdout)));
  }
  if (failOn !== undefined && isSeverity(failOn) && failsAt(report.hosts.flatMap((h) => h.findings), failOn)) {
    process.exitCode = EXIT_FINDINGS;
  }
}
