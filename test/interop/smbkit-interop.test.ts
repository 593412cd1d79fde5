/**
 * smbkit's server against real clients: smbclient for every SMB2/3 dialect over 445 and 139, signed sessions,
 * a 100 MiB round trip, impacket for 2.0.2/2.1/3.0, and the errors a user sees. Same suite as Samba's self-check.
 */
import { runServerInteropSuite } from './harness/suite.js';
import { startSmbkit } from './harness/smbkit.js';

const USER = 'smbkit_u';
const PASSWORD = 'Interop pass 1!';

runServerInteropSuite(
  'smbkit',
  async () => {
    const s = await startSmbkit({
      address: '127.0.0.4',
      port: 445,
      netbiosPort: 139,
      users: [{ name: USER, password: PASSWORD }],
      shares: [{ name: 'data' }, { name: 'ro', readOnly: true }],
    });
    return {
      host: '127.0.0.4',
      port: 445,
      netbiosPort: 139,
      share: 'data',
      readOnlyShare: 'ro',
      user: USER,
      password: PASSWORD,
      stop: () => s.stop(),
    };
  },
);
