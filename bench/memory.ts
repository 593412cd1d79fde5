import { spawn } from 'node:child_process';

/**
 * Touches `bytes` of fresh memory in a child process that then exits, so that the kernel holds that much free memory
 * that the hypervisor has backed. Run it just before a measured transfer that writes that much into the page cache.
 *
 * Why: on these virtual machines the guest returns free pages to the host (virtio-balloon free page reporting), and
 * the first touch of such a page costs the guest a fault in the host. A 1 GiB write into the page cache takes 3 s of
 * system time on cold pages and 0.3 s on warm ones (`dd if=/dev/zero of=F bs=8M count=128`, first run then second),
 * whichever program writes; which of two servers' puts lands on cold pages is luck, and it decided the put ratios of
 * earlier runs (0.48 in one, 0.91 in the next). The pages freed here stay warm for a moment (reporting waits about 2 s
 * and takes only large free blocks), long enough for the transfer that follows.
 */
export function warmPages(bytes: number): Promise<void> {
  const code = `const b = Buffer.allocUnsafe(${Math.ceil(bytes)}); for (let i = 0; i < b.length; i += 4096) b[i] = 1;`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`warming pages failed (exit ${code})`))));
  });
}
