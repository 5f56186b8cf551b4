/**
 * A simulated clock for a rehearsal that runs time forward: `Date.now()` and
 * `setTimeout` (what convex-test's scheduler and this backend's code read) are
 * replaced while it is installed, and `advance` runs every timer that falls due
 * in order, each at its own instant, waiting for the scheduled functions it
 * starts. So a mirror job 6 s after a student's action runs exactly then, between
 * the calls around it, the same way on every run. Install it only in a thread
 * that runs nothing else on timers (the one-deployment worker, a test).
 *
 * @example
 * const clock = SimulatedClock.install(Date.UTC(2026, 0, 1));
 * try { await clock.advance(6_000, () => t.finishInProgressScheduledFunctions()); } finally { clock.uninstall(); }
 */
type Timer = { at: number; seq: number; run: () => void };

export class SimulatedClock {
  private timers: Timer[] = [];
  private seq = 0;
  private readonly restore: () => void;

  private constructor(private current: number) {
    const realNow = Date.now;
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    Date.now = () => this.current;
    globalThis.setTimeout = ((run: () => void, ms?: number) => {
      const timer = { at: this.current + Math.max(0, ms ?? 0), seq: this.seq++, run };
      this.timers.push(timer);
      return timer;
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((timer: unknown) => {
      this.timers = this.timers.filter((t) => t !== timer);
    }) as typeof clearTimeout;
    this.restore = () => {
      Date.now = realNow;
      globalThis.setTimeout = realSetTimeout;
      globalThis.clearTimeout = realClearTimeout;
    };
  }

  static install(start: number): SimulatedClock {
    return new SimulatedClock(start);
  }

  uninstall() {
    this.restore();
  }

  now(): number {
    return this.current;
  }

  /** Timers not yet run (scheduled functions waiting for their time). */
  pending(): number {
    return this.timers.length;
  }

  /** Moves time `ms` forward, running each timer due by then at its instant and `settle` after it (waiting for what it started). */
  async advance(ms: number, settle: () => Promise<void>) {
    const until = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.run();
      await settle();
    }
    this.current = until;
  }
}
