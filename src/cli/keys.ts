/**
 * `thingport keys create [--name N] | list | revoke ID`: access keys of the HTTP API, managed on
 * the data directory's database without a running server (a running server sees the change on
 * its next request). Argument parsing and output only; the work is identity's.
 *
 * The data directory comes from the usual configuration (`--data-dir`, THINGPORT_DATA,
 * thingport.yaml, default ./data); `--json` prints machine-readable output.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../core/index.js';
import { IdentityError, openAccessKeys, type AccessKeyRecord, type AccessKeyService } from '../identity/index.js';

export const KEYS_HELP = `Usage: thingport keys create [--name NAME] [--json] [options]
       thingport keys list [--json] [options]
       thingport keys revoke ACCESS_KEY_ID [options]

Access keys sign requests to the AWS-compatible HTTP API (SigV4). The first start creates the
admin key (profile thingport in <data-dir>/aws-credentials); these commands manage more, offline.

  create   A new key; its secret is printed once. --name names who it is for (default: user).
  list     Every key with its name, status and creation time (secrets are not shown).
  revoke   Revokes a key for good; requests signed with it are refused from then on.

Options: --data-dir DIR, --config FILE (and the other server settings, which are ignored here).
`;

export interface KeysIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Runs `thingport keys ...`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runKeys(args: readonly string[], io: KeysIo): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === 'help' || args.includes('--help') || args.includes('-h')) {
    io.out(KEYS_HELP);
    return action === undefined ? 2 : 0;
  }
  const own = takeOwnFlags(rest);
  if (typeof own === 'string') {
    io.err(`thingport keys: ${own}\n`);
    return 2;
  }
  const loaded = loadConfig({ argv: own.configArgs, env: io.env, cwd: io.cwd });
  if (!loaded.ok) {
    io.err(`thingport: invalid configuration:\n${loaded.problems.map((p) => `${p}\n`).join('')}`);
    return 2;
  }
  const dataDir = loaded.config.dataDir;
  if (action !== 'create' && action !== 'list' && action !== 'revoke') {
    io.err(`thingport keys: unknown action "${action}"; use create, list or revoke\n`);
    return 2;
  }
  if (action === 'revoke' && own.positional.length !== 1) {
    io.err('thingport keys revoke: give exactly one access key id\n');
    return 2;
  }
  if (action !== 'revoke' && own.positional.length > 0) {
    io.err(`thingport keys ${action}: unexpected argument "${own.positional[0]}"\n`);
    return 2;
  }
  if (action === 'create') mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  else if (!existsSync(join(dataDir, 'thingport.db'))) {
    io.err(`thingport keys: no Thingport database in ${dataDir}; start the server once (thingport serve) or pass --data-dir\n`);
    return 1;
  }
  const { keys, close } = await openAccessKeys(dataDir);
  try {
    return perform(action, keys, own, io);
  } finally {
    close();
  }
}

function perform(action: 'create' | 'list' | 'revoke', keys: AccessKeyService, own: OwnFlags, io: KeysIo): number {
  if (action === 'create') {
    let k: AccessKeyRecord;
    try {
      k = keys.create(own.name ?? 'user');
    } catch (err) {
      if (!(err instanceof IdentityError)) throw err;
      io.err(`thingport keys create: ${err.message}\n`);
      return 2;
    }
    if (own.json) io.out(`${JSON.stringify({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey, name: k.name })}\n`);
    else {
      io.out(
        `Created an access key for "${k.name}" (the secret is shown only now):\n` +
          `  aws_access_key_id     = ${k.accessKeyId}\n  aws_secret_access_key = ${k.secretAccessKey}\n`,
      );
    }
    return 0;
  }
  if (action === 'list') {
    const all = keys.list();
    if (own.json) {
      io.out(`${JSON.stringify(all.map((k) => ({ accessKeyId: k.accessKeyId, name: k.name, status: k.status, createdAt: new Date(k.createdAt).toISOString() })))}\n`);
    } else {
      const rows = all.map((k) => [k.accessKeyId, k.name, k.status, new Date(k.createdAt).toISOString()]);
      const widths = [20, Math.max(4, ...rows.map((r) => r[1]!.length)), 7];
      const line = (cells: string[]): string => `${cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ')}\n`;
      io.out(line(['ACCESS KEY ID', 'NAME', 'STATUS', 'CREATED']) + rows.map(line).join(''));
    }
    return 0;
  }
  const id = own.positional[0]!;
  if (!keys.revoke(id)) {
    io.err(`thingport keys revoke: no active access key ${id}\n`);
    return 1;
  }
  io.out(`Revoked ${id}\n`);
  return 0;
}

interface OwnFlags {
  name: string | undefined;
  json: boolean;
  positional: string[];
  /** Everything else, for loadConfig (--data-dir, --config, ...). */
  configArgs: string[];
}

/** Splits off `--name`, `--json` and positional arguments; a string is a usage error. */
function takeOwnFlags(args: readonly string[]): OwnFlags | string {
  const out: OwnFlags = { name: undefined, json: false, positional: [], configArgs: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') out.json = true;
    else if (a === '--name' || a.startsWith('--name=')) {
      const v = a === '--name' ? args[++i] : a.slice('--name='.length);
      if (v === undefined || v === '') return '--name needs a value';
      out.name = v;
    } else if (a.startsWith('-')) {
      out.configArgs.push(a);
      // A setting's value follows unless given as --flag=value or the flag is a boolean switch.
      const next = args[i + 1];
      if (!a.includes('=') && next !== undefined && !next.startsWith('-')) out.configArgs.push(args[++i]!);
    } else out.positional.push(a);
  }
  return out;
}
