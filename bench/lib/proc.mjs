/**
 * Process accounting from /proc (Linux only): CPU time of any pid and its memory high-water
 * mark. Used by the orchestrator and by the generator (which samples the broker's CPU at the
 * exact edges of its measured window).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // getconf missing: Linux has used 100 on every common platform for decades.
}

/** CPU seconds (user + system) used so far by `pid`, or null if it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / clockTicks;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine (all cores, /proc/stat), or null. */
export function machineBusySeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / clockTicks;
  } catch {
    return null;
  }
}

/** { rssKb, hwmKb } from /proc/PID/status, or null if the process is gone. */
export function memoryKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+)/.exec(status);
    const hwm = /VmHWM:\s+(\d+)/.exec(status);
    return { rssKb: rss ? Number(rss[1]) : 0, hwmKb: hwm ? Number(hwm[1]) : 0 };
  } catch {
    return null;
  }
}

/** A CPU meter over a window: `start()` then `stop()` gives percent of one core. */
export function cpuMeter(pid) {
  let c0 = 0;
  let t0 = 0;
  return {
    start() {
      c0 = cpuSeconds(pid) ?? 0;
      t0 = performance.now();
    },
    stop() {
      const c1 = cpuSeconds(pid);
      const t1 = performance.now();
      if (c1 === null || t1 <= t0) return null;
      return ((c1 - c0) / ((t1 - t0) / 1000)) * 100;
    },
  };
}
