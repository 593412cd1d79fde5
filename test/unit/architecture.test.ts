/**
 * The dependency rules of the design, checked mechanically: dependencies point down only. Each rule names a
 * folder of src/ and the folders of src/ it may import from (besides itself and node: built-ins / packages).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const src = join(root, 'src');

const ALLOWED: Record<string, string[]> = {
  util: ['errors.ts'],
  protocol: ['util', 'errors.ts'],
  crypto: ['util', 'protocol', 'errors.ts'],
  auth: ['util', 'protocol', 'crypto', 'errors.ts'],
  store: ['util', 'errors.ts'],
  transport: ['util', 'protocol', 'errors.ts'],
  server: ['util', 'protocol', 'crypto', 'auth', 'store', 'transport', 'errors.ts'],
  client: ['util', 'protocol', 'crypto', 'auth', 'transport', 'errors.ts'],
  scan: ['util', 'protocol', 'crypto', 'auth', 'transport', 'client', 'config', 'errors.ts'],
  config: ['util', 'protocol', 'auth', 'store', 'server', 'errors.ts'],
  cli: ['util', 'protocol', 'crypto', 'auth', 'store', 'transport', 'server', 'client', 'scan', 'config', 'errors.ts'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('imports point down the layers of design.md', () => {
  const problems: string[] = [];
  for (const file of files(src)) {
    const rel = relative(src, file);
    const layer = rel.split(sep)[0]!;
    const allowed = ALLOWED[layer];
    if (allowed === undefined) continue; // index.ts and errors.ts may import anything below
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)) {
      const target = relative(src, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
      const targetLayer = target.split(sep)[0]!;
      if (targetLayer === layer || target.startsWith('..')) continue;
      if (!allowed.includes(targetLayer)) problems.push(`${rel} imports ${target}`);
    }
  }
  assert.deepEqual(problems, [], `layering violations:\n${problems.join('\n')}`);
});

// design.md "Each file's state has one owner": the state owner takes requests from a Requester and sends events to a
// ClientAddress (server/state/client-events.ts), so it can move to another worker or node without holding connections.
test('server/state/ reaches clients through client-events.ts, never through a connection or a request context', () => {
  const stateDir = join(src, 'server', 'state');
  const forbidden = ['server/connection.ts', 'server/context.ts', 'server/clients.ts'].map((p) => p.split('/').join(sep));
  const problems: string[] = [];
  for (const file of files(stateDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)) {
      const target = relative(src, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts');
      if (forbidden.includes(target)) problems.push(`${relative(src, file)} imports ${target}`);
    }
  }
  assert.deepEqual(problems, []);
});
