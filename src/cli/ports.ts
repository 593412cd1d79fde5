import { failsAt, isSeverity } from '../scan/findings.js';
import { SMB_PORTS, localPorts } from '../scan/ports.js';
import { formatFinding, paint, styleFor } from '../scan/report.js';
import { parseCommandArgs, UsageError } from './main.js';
import { EXIT_FINDINGS } from './scan.js';

const HELP = `usage: smbkit ports [--json] [--fail-on SEVERITY]

Lists this machine's listening sockets on ports ${SMB_PORTS.join(', ')} (TCP and UDP, IPv4 and IPv6) from /proc/net,
with the owning process where it can be seen, and flags each bound to a public or wildcard address.
  --json               the report as JSON (schema smbkit-ports/1, docs/scan-schema.md)
  --fail-on SEVERITY   exit with code 3 when a finding of SEVERITY (high, medium, low) or above exists
`;

/** `smbkit ports ...` */
export async function runPorts(argv: string[]): Promise<void> {
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: false,
      options: { json: { type: 'boolean' }, 'fail-on': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    },
    HELP,
  );
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const failOn = values['fail-on'];
  if (failOn !== undefined && !isSeverity(failOn)) throw new UsageError('--fail-on takes high, medium or low');
  const report = await localPorts();
  if (values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const style = styleFor(process.stdout);
    let out = '';
    if (report.unreadable.length === 4) out += 'cannot read /proc/net (this command needs Linux)\n';
    else if (report.sockets.length === 0) out += `nothing listens on ports ${SMB_PORTS.join(', ')}\n`;
    else {
      out += `${'proto'.padEnd(6)} ${'address'.padEnd(40)} ${'port'.padEnd(5)} ${'class'.padEnd(10)} process\n`;
      for (const s of report.sockets) {
        const proto = `${s.protocol}${s.family === 6 ? '6' : ''}`;
        const cls = s.addressClass === 'public' || s.addressClass === 'wildcard' ? paint(s.addressClass.padEnd(10), 'yellow', style) : s.addressClass.padEnd(10);
        out += `${proto.padEnd(6)} ${s.address.padEnd(40)} ${String(s.port).padEnd(5)} ${cls} ${s.command !== null ? `${s.command} (pid ${s.pid})` : '-'}\n`;
      }
    }
    if (report.findings.length > 0) {
      out += '\nfindings:\n';
      for (const f of report.findings) out += formatFinding(f, style);
    }
    process.stdout.write(out);
  }
  if (failOn !== undefined && isSeverity(failOn) && failsAt(report.findings, failOn)) process.exitCode = EXIT_FINDINGS;
}
