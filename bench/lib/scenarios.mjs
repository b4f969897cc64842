/**
 * The benchmark's scenarios as data: which generator test each runs, its parameters, and what
 * it asks of the broker (`broker` options, applied identically to every broker that has the
 * setting). Timed tests get `warmupMs`/`durationMs` from the command line.
 */

/** Per-subscriber cap on messages between send and receipt (see gen/throughput.mjs). */
const OUTSTANDING_QOS0 = 1000;
const OUTSTANDING_QOS1 = 800;
/** Cap on deliveries owed across all subscribers. */
const OUTSTANDING_TOTAL = 5000;

function throughput(key, title, kind, qos, extra = {}) {
  return {
    key,
    title,
    test: 'throughput',
    timed: true,
    better: 'higher',
    params: { kind, qos, window: 100, outstanding: qos > 0 ? OUTSTANDING_QOS1 : OUTSTANDING_QOS0, total: OUTSTANDING_TOTAL, ...extra.params },
    broker: extra.broker ?? {},
  };
}

export const SCENARIOS = [
  {
    id: 'a',
    name: 'fan-in',
    variants: [
      throughput('a-qos0', 'a. fan-in 8 -> 1 (wildcard), QoS 0', 'fan-in', 0),
      throughput('a-qos1', 'a. fan-in 8 -> 1 (wildcard), QoS 1', 'fan-in', 1),
    ],
  },
  {
    id: 'b',
    name: 'fan-out',
    variants: [
      throughput('b-qos0', 'b. fan-out 1 -> 100, QoS 0', 'fan-out', 0),
      throughput('b-qos1', 'b. fan-out 1 -> 100, QoS 1', 'fan-out', 1),
    ],
  },
  {
    id: 'c',
    name: 'pairwise',
    variants: [
      throughput('c-qos0', 'c. pairwise 100 x (1 -> 1), QoS 0', 'pairwise', 0),
      throughput('c-qos1', 'c. pairwise 100 x (1 -> 1), QoS 1', 'pairwise', 1),
    ],
  },
  {
    id: 'd',
    name: 'latency',
    variants: [
      {
        key: 'd',
        title: 'd. latency, QoS 1 at 10,000 msg/s (10 pairs)',
        test: 'latency',
        timed: true,
        better: 'lower',
        params: { rate: 10_000, pairs: 10, window: 100 },
        broker: {},
      },
    ],
  },
  {
    id: 'e',
    name: 'idle connections',
    variants: [
      { key: 'e-conn', title: 'e. 10,000 idle connections', test: 'idle', better: 'lower', params: { count: 10_000, subscribe: false, concurrency: 64, settleMs: 1500 }, broker: {} },
      { key: 'e-sub', title: 'e. 10,000 idle connections, 1 subscription each', test: 'idle', better: 'lower', params: { count: 10_000, subscribe: true, concurrency: 64, settleMs: 1500 }, broker: {} },
    ],
  },
  {
    id: 'f',
    name: 'durable',
    variants: [
      throughput('f-durable', 'f. durable: pairwise 100, QoS 1, persistent sessions', 'pairwise', 1, {
        params: { clean: false },
        broker: { durable: true },
      }),
      {
        key: 'f-crash',
        title: 'f. crash check: kill -9 mid-run, PUBACKed messages lost',
        test: 'crash-check',
        crash: true,
        better: 'lower',
        runsKey: 'crashRuns',
        // Enough messages that a fast broker is still publishing when the subscriber goes offline
        // (so the kill hits a stored backlog), and queues raised so that the offline backlog
        // (about a second of publishing) fits in every broker: a loss then means durability, not
        // a queue-limit policy.
        params: { offlineAtMs: 1000, killAtMs: 2000, maxMessages: 400_000, window: 100, quietMs: 2000 },
        broker: { durable: true, maxQueued: 500_000 },
      },
    ],
  },
  {
    id: 'g',
    name: 'retained storm',
    variants: [
      {
        key: 'g',
        title: "g. retained storm: 10,000 retained, subscribe '#', time to all",
        test: 'retained',
        better: 'lower',
        // A QoS 1 '#' subscription makes all 10,000 retained messages pass through one
        // client's queue: the default queue limit (1,000 in Mosquitto and Thingport) would
        // drop most of them, so both are raised to hold the whole set.
        params: { count: 10_000, subQos: 1, window: 100 },
        broker: { maxQueued: 20_000 },
      },
    ],
  },
  {
    // Thingport only (bench/lib/rules.mjs): reported in their own "Rules" section of latest.md.
    id: 'r',
    name: 'rules',
    variants: [
      { key: 'r-eval', family: 'rules', title: 'r. rule evaluation, in process, one core', test: 'rule-eval', better: 'higher' },
      {
        ...throughput('r-qos0', 'r. pairwise 100 x (1 -> 1), QoS 0, JSON on sensors/N/data', 'pairwise', 0, {
          params: { payload: 'json' },
          broker: { http: true },
        }),
        family: 'rules',
        /**
         * Rules active in each configuration; they take turns run by run. `distinct`: each rule's
         * alias differs (`device_N`), so no two statements are the same and the engine cannot
         * share one evaluation between them (it does for identical statements).
         */
        ruleConfigs: [{ rules: 0 }, { rules: 10 }, { rules: 10, distinct: true }],
      },
    ],
  },
];

/** Finds variants by scenario letter or variant key ("a", "a-qos1", "f-crash", "r-eval"). */
export function selectVariants(ids) {
  const out = [];
  for (const s of SCENARIOS) {
    for (const v of s.variants) {
      if (ids === null || ids.includes(s.id) || ids.includes(v.key)) out.push({ ...v, scenario: s.id });
    }
  }
  return out;
}

/** The broker comparison's variants (every broker, the main tables) among `variants`. */
export const brokerVariants = (variants) => variants.filter((v) => v.family !== 'rules');
