// Rules engine through the real server: a rule created with the AWS SDK republishes what it selects,
// and Basic Ingest topics reach only their rule.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTopicRuleCommand, type IoTClient } from '@aws-sdk/client-iot';
import { startThingport, type Thingport } from '../helpers/thingport.js';
import { connectClient, type TestClient } from '../helpers/mqtt.js';
import { iotClient, subackCodes } from '../helpers/iot.js';

describe('rules: Basic Ingest and republish on the running server', () => {
  let tp: Thingport;
  let iot: IoTClient;
  let sub: TestClient;

  before(async () => {
    tp = await startThingport();
    iot = iotClient(tp);
    await iot.send(
      new CreateTopicRuleCommand({
        ruleName: 'hot',
        topicRulePayload: {
          sql: "SELECT temp, topic(2) AS device FROM 'sensors/+/t' WHERE temp > 30",
          actions: [{ republish: { roleArn: 'arn:aws:iam::000000000000:role/x', topic: 'alerts/${topic(2)}', qos: 1 } }],
          ruleDisabled: false,
        },
      }),
    );
    sub = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    await sub.subscribe(['alerts/#', 'sensors/#']);
  });

  after(async () => {
    await sub?.end();
    iot?.destroy();
    await tp?.stop();
  });

  test('[AWS IoT SQL] a rule created with the SDK republishes only messages whose WHERE is true', async () => {
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('sensors/d1/t', JSON.stringify({ temp: 20 }), { qos: 1 });
    await pub.publish('sensors/d1/t', JSON.stringify({ temp: 35 }), { qos: 1 });
    const [alert] = await sub.waitMessages('alerts/d1', 1);
    assert.deepEqual(JSON.parse(alert.payload.toString()), { temp: 35, device: 'd1' });
    await sub.waitMessages('sensors/d1/t', 2);
    assert.equal(sub.matching('alerts/d1').length, 1, 'the cool reading did not pass the WHERE');
    await pub.end();
  });

  test('[AWS Basic Ingest] $aws/rules/{rule}/... reaches that rule and no subscriber; subscribing to it is refused', async () => {
    const spy = await connectClient(tp.mqttPort, { protocolVersion: 5 });
    assert.deepEqual(await subackCodes(spy, ['$aws/rules/#']), [0x87]);
    const pub = await connectClient(tp.mqttPort);
    await pub.publish('$aws/rules/hot/sensors/d2/t', JSON.stringify({ temp: 40 }), { qos: 1 });
    const [alert] = await sub.waitMessages('alerts/d2', 1);
    assert.equal(JSON.parse(alert.payload.toString()).temp, 40);
    assert.equal(sub.matching('sensors/d2/t').length, 0, 'the ingest message was not fanned out under its inner topic');
    assert.equal(spy.matching(() => true).length, 0);
    await spy.end();
    await pub.end();
  });
});
