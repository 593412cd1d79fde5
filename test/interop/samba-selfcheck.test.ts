/**
 * Proves the interop harness against Samba itself: Samba plays the server under
 * test, so every check here is known to be passable by a correct server.
 */
import { startSamba } from './harness/samba.js';
import { runServerInteropSuite } from './harness/suite.js';

const ADDRESS = '127.0.0.2';
const USER = 'smbkit_t';
const PASSWORD = 'Sm6kit pass!';

runServerInteropSuite('Samba self-check', async () => {
  const samba = await startSamba({
    address: ADDRESS,
    ports: [445, 139],
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: 'share' }, { name: 'ro', readOnly: true }],
  });
  return {
    host: ADDRESS,
    port: 445,
    netbiosPort: 139,
    share: 'share',
    readOnlyShare: 'ro',
    user: USER,
    password: PASSWORD,
    stop: () => samba.stop(),
  };
});
