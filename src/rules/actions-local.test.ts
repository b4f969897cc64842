import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../lib/index.js';
import { compileCloudwatchLogsAction } from './actions-local.js';
import { compileSql } from './sql/index.js';

test('cloudwatchLogs logs the output as JSON text with Decimals as written, binary output as base64', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = { info: (o: Record<string, unknown>) => void lines.push(o) } as unknown as Logger;
  const action = compileCloudwatchLogsAction({ roleArn: 'arn:aws:iam::123456789012:role/r', logGroupName: 'g' }, logger);
  const sql = compileSql("SELECT n, x FROM 't'");
  const payload = Buffer.from('{"n":7.0,"x":1}');
  const ctx = { topic: 't', payload, clientId: null, principal: null, sourceIp: null, traceId: 'tr-1', timestamp: 0, accountId: '123456789012', properties: null };
  const output = sql.evaluate(ctx);
  await action.run({ output, doc: output, ctx });
  await action.run({ output: Buffer.from([1, 2, 3]), doc: undefined, ctx });
  assert.deepEqual(lines, [
    { logGroupName: 'g', topic: 't', traceId: 'tr-1', message: '{"n":7.0,"x":1}' },
    { logGroupName: 'g', topic: 't', traceId: 'tr-1', message: 'AQID' },
  ]);
});
