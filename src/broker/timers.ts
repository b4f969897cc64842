/**
 * Timers longer than setTimeout's 24.8-day ceiling (session expiry may be years), cancellable and
 * fireable early (a delayed will goes out at once when its session ends first).
 */
const MAX_DELAY = 2_147_483_647;

export interface LongTimer {
  cancel(): void;
  /** Runs the callback now (once) and cancels the timer. */
  fire(): void;
}

export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  let handle: NodeJS.Timeout | null = null;
  let done = false;
  const due = Date.now() + ms;
  const arm = (): void => {
    const left = due - Date.now();
    if (left <= 0) return run();
    handle = setTimeout(arm, Math.min(left, MAX_DELAY));
    handle.unref();
  };
  const run = (): void => {
    if (done) return;
    done = true;
    handle = null;
    fn();
  };
  arm();
  return {
    cancel(): void {
      done = true;
      if (handle !== null) clearTimeout(handle);
      handle = null;
    },
    fire(): void {
      if (handle !== null) clearTimeout(handle);
      run();
    },
  };
}
