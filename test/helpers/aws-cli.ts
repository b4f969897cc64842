/**
 * The AWS CLI (`aws`), run against a Thingport server with the credentials and config files it
 * wrote to its data directory — exactly what an operator does. Tests skip (with the reason
 * printed) when `aws` is not on PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Thingport } from './thingport.js';

let available: string | null | undefined;

/** Why the AWS CLI cannot be used here, or null when it can. */
export function awsCliMissing(): string | null {
  if (available === undefined) {
    const r = spawnSync('aws', ['--version'], { encoding: 'utf8', timeout: 30_000 });
    available = r.error !== undefined ? `the AWS CLI (aws) is not on PATH (${r.error.message})` : r.status !== 0 ? `aws --version failed: ${r.stderr}` : null;
  }
  return available;
}

/** Environment for `aws`: the server's credentials/config files, nothing from the developer's own AWS setup. */
export function awsCliEnv(tp: Thingport, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && !k.startsWith('THINGPORT_')) env[k] = v;
  return {
    ...env,
    AWS_SHARED_CREDENTIALS_FILE: tp.endpoints.credentialsFile,
    AWS_CONFIG_FILE: tp.endpoints.configFile,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extra,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `aws ARGS` (JSON output) with awsCliEnv; never throws on a non-zero exit. */
export function runAws(tp: Thingport, args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const child = spawn('aws', [...args, '--output', 'json'], { env: awsCliEnv(tp, extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Runs `aws ARGS`, asserting success, and parses the JSON it prints ({} when it prints nothing). */
export async function awsJson<T = Record<string, unknown>>(tp: Thingport, args: string[]): Promise<T> {
  const r = await runAws(tp, args);
  if (r.code !== 0) throw new Error(`aws ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return (r.stdout.trim() === '' ? {} : JSON.parse(r.stdout)) as T;
}
