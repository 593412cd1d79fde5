#!/usr/bin/env node
// Launcher of the built CLI (run `npm run build` or `npm ci` first in a checkout).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('smbkit: the CLI is not built; run `npm ci` (or `npm run build`) in the checkout\n');
  } else {
    process.stderr.write(`smbkit: ${err && err.stack ? err.stack : err}\n`);
  }
  process.exitCode = 1;
});
