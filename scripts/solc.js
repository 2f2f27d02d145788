#!/usr/bin/env node
// A `solc` executable for forge, served by solc-js (npm `solc`, pinned in tools/package.json).
// forge runs offline (`offline = true`) and cannot download a native compiler; it only needs
// `--version` and `--standard-json` (input on stdin, output on stdout). Import callbacks read
// from the file system, relative to the working directory or any --base-path / --include-path.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'npm', 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  const v = solc.version().replace('.Emscripten.clang', '.Linux.g++');
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${v}\n`);
  process.exit(0);
}
const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && args[i + 1]) roots.push(args[++i]);
  else if (args[i] === '--allow-paths' && args[i + 1]) roots.push(...args[++i].split(','));
}
function findImports(p) {
  for (const root of [''].concat(roots)) {
    const full = root ? path.resolve(root, p) : p;
    try { return { contents: fs.readFileSync(full, 'utf8') }; } catch (_) { /* try next */ }
  }
  return { error: `file not found: ${p}` };
}
if (!args.includes('--standard-json')) {
  process.stderr.write('this wrapper supports only --version and --standard-json\n');
  process.exit(2);
}
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  process.stdout.write(solc.compile(Buffer.concat(chunks).toString('utf8'), { import: findImports }));
});
