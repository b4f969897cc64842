import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineWheel, type DeadlineItem } from './deadlines.js';

// The wheel's timer is unref'd (it must not keep a server process alive); hold the loop open here.
const hold = setInterval(() => {}, 1_000);
after(() => clearInterval(hold));

function item(onDeadline: (now: number) => void): DeadlineItem {
  return { deadlineSlot: 0, onDeadline };
}

test('deadlines: an item runs once, never before its deadline', async () => {
  const wheel = new DeadlineWheel(10);
  const at = Date.now() + 35;
  const ran = await new Promise<number>((resolve) => {
    let calls = 0;
    const it = item((now) => {
      calls++;
      resolve(now);
      setTimeout(() => assert.equal(calls, 1), 50);
    });
    wheel.schedule(it, at);
    assert.equal(wheel.size, 1);
  });
  assert.ok(ran >= at, `ran at ${ran}, deadline ${at}`);
  assert.equal(wheel.size, 0);
  wheel.stop();
});

test('deadlines: cancel and reschedule replace the earlier deadline', async () => {
  const wheel = new DeadlineWheel(10);
  const cancelled = item(() => assert.fail('a cancelled item must not run'));
  wheel.schedule(cancelled, Date.now() + 10);
  wheel.cancel(cancelled);
  assert.equal(cancelled.deadlineSlot, 0);
  const order: string[] = [];
  await new Promise<void>((resolve) => {
    const late = item(() => {
      order.push('late');
      resolve();
    });
    const early = item(() => order.push('early'));
    wheel.schedule(late, Date.now() + 5);
    wheel.schedule(late, Date.now() + 60); // moved later
    wheel.schedule(early, Date.now() + 20);
    assert.equal(wheel.size, 2);
  });
  assert.deepEqual(order, ['early', 'late']);
  wheel.stop();
});

test('deadlines: an item rescheduled from its own callback (even into the past) runs again', async () => {
  const wheel = new DeadlineWheel(10);
  let runs = 0;
  await new Promise<void>((resolve) => {
    const it: DeadlineItem = item((now) => {
      runs++;
      if (runs < 3) wheel.schedule(it, now - 1_000);
      else resolve();
    });
    wheel.schedule(it, Date.now());
  });
  assert.equal(runs, 3);
  wheel.stop();
});

test('deadlines: stop() drops every scheduled item', async () => {
  const wheel = new DeadlineWheel(10);
  const it = item(() => assert.fail('must not run after stop'));
  wheel.schedule(it, Date.now() + 5);
  wheel.stop();
  assert.equal(wheel.size, 0);
  assert.equal(it.deadlineSlot, 0);
  await new Promise((r) => setTimeout(r, 40));
});

test('deadlines: an item that throws is reported and the others in its slot still run', async () => {
  const errors: unknown[] = [];
  const wheel = new DeadlineWheel(10, Date.now, (err) => errors.push(err));
  const at = Date.now() + 5;
  await new Promise<void>((resolve) => {
    wheel.schedule(item(() => { throw new Error('boom'); }), at);
    wheel.schedule(item(() => resolve()), at);
  });
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /boom/);
  wheel.stop();
});
