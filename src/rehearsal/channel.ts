/**
 * A hand-off between a producer that pushes (the snapshot loader's onExam) and
 * consumers that pull (the worker pool): `put` resolves only once a consumer
 * has taken the value, so the producer never runs ahead of the consumers by
 * more than the one value it holds. That bounds memory by the consumers'
 * working set, not by the input.
 *
 * @example
 * const channel = new Channel<ExamTask>();
 * void scan(async (task) => channel.put(task)).then(() => channel.close(), (e) => channel.fail(e));
 * for await (const task of channel) …
 */
export class Channel<T> implements AsyncIterable<T> {
  private readonly values: { value: T; taken: () => void; refused: (e: unknown) => void }[] = [];
  private readonly takers: { take: (r: IteratorResult<T>) => void; refuse: (e: unknown) => void }[] = [];
  private closed = false;
  private error: { e: unknown } | null = null;

  /** Hands `value` on; resolves when a consumer has taken it, rejects if the channel fails first. */
  put(value: T): Promise<void> {
    if (this.error !== null) return Promise.reject(this.error.e);
    if (this.closed) return Promise.reject(new Error("put on a closed channel"));
    const taker = this.takers.shift();
    if (taker !== undefined) {
      taker.take({ value, done: false });
      return Promise.resolve();
    }
    return new Promise((taken, refused) => this.values.push({ value, taken, refused }));
  }

  /** No more values: consumers finish once they have taken the ones put. */
  close() {
    this.closed = true;
    for (const t of this.takers.splice(0)) t.take({ value: undefined, done: true });
  }

  /** Stops both sides: pending and later puts and takes reject with `e`. */
  fail(e: unknown) {
    if (this.error !== null) return;
    this.error = { e };
    for (const v of this.values.splice(0)) v.refused(e);
    for (const t of this.takers.splice(0)) t.refuse(e);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.error !== null) return Promise.reject(this.error.e);
    const ready = this.values.shift();
    if (ready !== undefined) {
      ready.taken();
      return Promise.resolve({ value: ready.value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((take, refuse) => this.takers.push({ take, refuse }));
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: () => this.next() };
  }
}
