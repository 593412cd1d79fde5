/**
 * Named-pipe and printer benchmark on 127.0.0.66: an in-process SmbServer with a registered echo pipe and a
 * "firehose" pipe, driven by smbkit's client (transact round trips per second with 1 KiB messages, one client;
 * server-to-client messages of 64 KiB per second), then a printer share fed by `smbclient print` (MB/s of a
 * 100 MiB job, its sha256 checked in the spool directory).
 *
 *   node dist/bench/pipes.js [--seconds 5]
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, parseConfig, serverConfigFrom, SmbServer } from '../src/index.js';
import { makeFile, MiB, sha256File } from '../test/interop/harness/files.js';
import { run } from '../test/interop/harness/proc.js';

const HOST = '127.0.0.66';
const USER = { name: 'bench', password: 'Pipe bench 1!' };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
  const seconds = Number(values.seconds);
  const work = await mkdtemp(join(tmpdir(), 'smbkit-pipe-bench-'));
  const spool = join(work, 'spool');
  const server = new SmbServer({
    ...serverConfigFrom(parseConfig({ server: { listen: [`${HOST}:445`], log_level: 'error' }, user: [USER], share: [{ name: 'lp', type: 'printer', path: spool }] })),
  });
  server.pipes.register('echo', (conn) => {
    conn.on('message', (m) => conn.send(m));
  });
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  server.pipes.register('firehose', (conn) => {
    const pump = () => {
      while (!conn.closed && conn.send(chunk));
    };
    conn.on('drain', pump);
    pump();
  });
  await server.listen();
  const client = await connect({ host: HOST, user: USER.name, password: USER.password });
  try {
    const echo = await client.openPipe('echo');
    const msg = Buffer.alloc(1024, 1);
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const t0 = process.hrtime.bigint();
    while (Date.now() < end) {
      await echo.transact(msg);
      n++;
    }
    const rtt = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`echo pipe: ${n} transacts of 1 KiB in ${rtt.toFixed(2)} s = ${Math.round(n / rtt)} round trips/s (one client, one at a time)`);
    await echo.close();

    const hose = await client.openPipe('firehose');
    let bytes = 0;
    const hoseEnd = Date.now() + seconds * 1000;
    const t1 = process.hrtime.bigint();
    while (Date.now() < hoseEnd) bytes += (await hose.read()).length;
    const hs = Number(process.hrtime.bigint() - t1) / 1e9;
    console.log(`firehose pipe: ${(bytes / MiB).toFixed(0)} MiB of 64 KiB messages in ${hs.toFixed(2)} s = ${(bytes / 1e6 / hs).toFixed(0)} MB/s`);
    await hose.close();

    if (existsSync('/usr/bin/smbclient')) {
      const doc = join(work, 'job.bin');
      await makeFile(doc, 100 * MiB);
      const t2 = process.hrtime.bigint();
      const r = await run('/usr/bin/smbclient', [`//${HOST}/lp`, '--configfile=/dev/null', '-U', `${USER.name}%${USER.password}`, '-c', 'print job.bin'], { cwd: work, timeoutMs: 300_000 });
      const ps = Number(process.hrtime.bigint() - t2) / 1e9;
      const jobs = (await readdir(spool)).filter((f) => f.endsWith('.prn'));
      const same = jobs.length === 1 && (await sha256File(join(spool, jobs[0]!))) === (await sha256File(doc));
      console.log(`smbclient print of 100 MiB: ${ps.toFixed(2)} s = ${(100 * MiB / 1e6 / ps).toFixed(0)} MB/s (whole process, login included), exit ${r.code}, sha256 ${same ? 'matches' : 'DIFFERS'}`);
    }
  } finally {
    await client.close();
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
