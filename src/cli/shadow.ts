/**
 * `thingport shadow get THING [--name SHADOW]` and `thingport shadow history THING [--name SHADOW]
 * [--from T] [--to T] [--at T] [--limit N]`: read device shadows and their history straight from
 * the data directory's database (SQLite in WAL mode lets this run beside a live server).
 * Argument parsing and output only; the work is the shadow capability's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, openDatabase } from '../core/index.js';
import { createLogger } from '../lib/index.js';
import { JsonNumber, ShadowService, SqliteShadowStore, parseHistoryParams, readHistory, renderHistory, writeJson, type JsonObject, type JsonValue } from '../shadow/index.js';

export const SHADOW_HELP = `Usage: thingport shadow get THING [--name SHADOW] [options]
       thingport shadow history THING [--name SHADOW] [--from TIME] [--to TIME] [--at TIME] [--limit N] [options]

Reads device shadows from the data directory (works while the server runs).

  get       The current document (state, metadata, version) as JSON; exit 1 when there is none.
  history   Every accepted version, oldest first, with who made it (principal, MQTT client id)
            and the state after it, as JSON. --at TIME gives the version in effect at TIME.
            TIME is epoch seconds, epoch milliseconds or ISO 8601 (2026-05-01T10:02:00Z).

Options: --data-dir DIR, --config FILE (and the other server settings, which are ignored here).
`;

export interface ShadowCliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

const OWN = new Set(['--name', '--from', '--to', '--at', '--limit']);

/** Runs `thingport shadow ...`; returns the exit code (0 ok, 1 not found or failed, 2 usage). */
export function runShadow(args: readonly string[], io: ShadowCliIo): number {
  const [action, ...rest] = args;
  if (action === undefined || action === 'help' || args.includes('--help') || args.includes('-h')) {
    io.out(SHADOW_HELP);
    return action === undefined ? 2 : 0;
  }
  if (action !== 'get' && action !== 'history') {
    io.err(`thingport shadow: unknown action "${action}"; use get or history\n`);
    return 2;
  }
  const own: Record<string, string> = {};
  const positional: string[] = [];
  const configArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (OWN.has(flag)) {
      const v = inline ?? rest[++i];
      if (v === undefined || v === '') {
        io.err(`thingport shadow: ${flag} needs a value\n`);
        return 2;
      }
      own[flag.slice(2)] = v;
    } else if (a.startsWith('-')) {
      configArgs.push(a);
      const next = rest[i + 1];
      if (inline === undefined && next !== undefined && !next.startsWith('-')) configArgs.push(rest[++i]!);
    } else positional.push(a);
  }
  if (positional.length !== 1) {
    io.err(`thingport shadow ${action}: give exactly one thing name\n`);
    return 2;
  }
  const thingName = positional[0]!;
  const loaded = loadConfig({ argv: configArgs, env: io.env, cwd: io.cwd });
  if (!loaded.ok) {
    io.err(`thingport: invalid configuration:\n${loaded.problems.map((p) => `${p}\n`).join('')}`);
    return 2;
  }
  const file = join(loaded.config.dataDir, 'thingport.db');
  if (!existsSync(file)) {
    io.err(`thingport shadow: no Thingport database in ${loaded.config.dataDir}; pass --data-dir\n`);
    return 1;
  }
  const db = openDatabase(file);
  try {
    const service = new ShadowService({ store: new SqliteShadowStore(db), messaging: { publish: async () => {} }, logger: createLogger('silent') });
    if (action === 'get') {
      const view = service.read(thingName, own.name ?? null);
      if (view === null || view.document === null) {
        io.err(`thingport shadow get: no shadow ${own.name === undefined ? `of thing ${thingName}` : `${own.name} of thing ${thingName}`}\n`);
        return 1;
      }
      const d = view.document;
      const present = (entries: Array<[string, JsonObject | null]>): JsonObject => new Map(entries.filter((e): e is [string, JsonObject] => e[1] !== null));
      const doc: JsonObject = new Map<string, JsonValue>([
        ['thingName', thingName],
        ['shadowName', own.name ?? null],
        ['state', present([['desired', d.desired], ['reported', d.reported]])],
        ['metadata', present([['desired', d.metadataDesired], ['reported', d.metadataReported]])],
        ['version', new JsonNumber(String(view.version))],
        ['updatedAt', new Date(view.updatedAt).toISOString()],
      ]);
      io.out(`${writeJson(doc)}\n`);
      return 0;
    }
    let params;
    try {
      params = parseHistoryParams({ name: own.name, from: own.from, to: own.to, at: own.at, limit: own.limit });
    } catch (err) {
      io.err(`thingport shadow history: ${(err as Error).message}\n`);
      return 2;
    }
    io.out(`${renderHistory(thingName, params.shadowName, readHistory(service, thingName, params))}\n`);
    return 0;
  } finally {
    db.close();
  }
}
