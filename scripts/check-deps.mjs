#!/usr/bin/env node
// Enforces the dependency rules of DESIGN.md ("Shape of the code"); runs inside `npm run lint`.
//  - lib <- core <- protocol <- broker; capabilities use lib, core, protocol, http and other capabilities;
//    nothing but main.ts (and the CLI's lazy import of main.ts) imports broker.
//  - another folder is imported only through its index.ts (STYLE.md #2).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname, relative, resolve, sep } from 'node:path';

const SRC = resolve('src');
const ALLOWED = {
  lib: [],
  core: ['lib'],
  protocol: ['lib', 'core'],
  broker: ['lib', 'core', 'protocol'],
  http: ['lib', 'core'],
  // The CLI parses arguments and calls capability services (e.g. `thingport keys` -> identity);
  // http for its SigV4 signer (`thingport rules traces` calls the running server).
  cli: ['lib', 'core', 'main.ts', 'http', 'identity', 'shadow', 'rules'],
};
// Any other folder is a capability.
const CAPABILITY_DEPS = ['lib', 'core', 'protocol', 'http', '*capability'];

function files(dir, out = []) {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
}

// The top-level folder of a path under src/, or the file name (as .ts) for files directly in src/.
const topOf = (abs) => {
  const rel = relative(SRC, abs).split(sep);
  return rel.length === 1 ? rel[0].replace(/\.js$/, '.ts') : rel[0];
};
const isFolder = (name) => !name.endsWith('.ts');

const problems = [];
const importRe = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
for (const file of files(SRC)) {
  const from = topOf(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(file), spec);
    // Outside src/: only tests may reach for the end-to-end test kit (test/helpers: a real server, clients).
    if (!target.startsWith(SRC + sep)) {
      if (!file.endsWith('.test.ts')) problems.push(`${relative('.', file)}: imports ${spec} — only tests may import from outside src/`);
      continue;
    }
    const to = topOf(target);
    if (to === from) continue;
    const where = `${relative('.', file)}: imports ${spec}`;
    if (from === 'main.ts') continue;
    const allowed = ALLOWED[from] ?? CAPABILITY_DEPS;
    // Tests beside the code, and their test kits (`*testkit.ts`, imported only by tests), may set up
    // fixtures from other folders (still through their index).
    const ok = file.endsWith('.test.ts') || file.endsWith('testkit.ts') || allowed.includes(to) || (allowed.includes('*capability') && isFolder(to) && !(to in ALLOWED));
    if (!ok) problems.push(`${where} — ${from} may not depend on ${to}`);
    if (isFolder(to) && !target.endsWith(`${sep}index.js`) && target !== join(SRC, to, 'index.js'))
      problems.push(`${where} — import ${to} through ${to}/index.js`);
  }
}
if (problems.length > 0) {
  console.error(`check-deps: ${problems.length} problem(s):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('check-deps: dependency rules hold');
