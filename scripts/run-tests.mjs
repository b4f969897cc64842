#!/usr/bin/env node
// Runs every compiled test file (unit tests beside code, end-to-end tests in test/)
// with node's own test runner, which ends with a summary line (tests, pass, fail, skipped).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = [...collect('dist/src', []), ...collect('dist/test', [])].sort();
if (filter.length > 0) files = files.filter((f) => filter.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no compiled test files found (did `npm run build` run?)');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=120000', ...files], { stdio: 'inherit' });
process.exit(res.status ?? 1);
