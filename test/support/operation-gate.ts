/**
 * Holds an operation of a store until the test lets it go: a write "in flight" for as long as
 * the test wants, then landing (`release`: the real operation runs and its outcome is
 * delivered) or failing (`fail`: it never happens). Wraps a real store (the in-memory HA
 * stores), whose behaviour is otherwise untouched.
 *
 * @example
 * const gate = new OperationGate();
 * const checkpoints = gate.wrap('checkpoints', new InMemoryCompletedCheckpointStore(guard));
 * const held = gate.hold('checkpoints.add');
 * // ... the code under test calls checkpoints.add(...): it waits
 * assert.ok(held.entered);
 * held.release(); // or held.fail(new Error('etcd unreachable'))
 */

export interface HeldOperation {
  /** Whether the operation has been called (and is waiting). */
  readonly entered: boolean;
  /** The arguments it was called with. */
  readonly args: readonly unknown[];
  /** Run the real operation now and deliver its outcome to the caller. */
  release(): void;
  /** Fail it with `error`; the real operation never runs. */
  fail(error: Error): void;
}

interface Waiting {
  args: unknown[];
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class Hold implements HeldOperation {
  waiting: Waiting | null = null;
  private settled = false;

  constructor(readonly name: string) {}

  get entered(): boolean {
    return this.waiting !== null;
  }

  get args(): readonly unknown[] {
    return this.waiting?.args ?? [];
  }

  release(): void {
    const waiting = this.take('release');
    waiting.run().then(waiting.resolve, waiting.reject);
  }

  fail(error: Error): void {
    this.take('fail').reject(error);
  }

  private take(what: string): Waiting {
    if (!this.waiting) throw new Error(`cannot ${what} ${this.name}: it has not been called yet`);
    if (this.settled) throw new Error(`${this.name} was already released or failed`);
    this.settled = true;
    return this.waiting;
  }
}

export class OperationGate {
  /** Holds armed and not yet entered, by operation name, in arming order. */
  private readonly armed = new Map<string, Hold[]>();
  /** Every call that went through, by operation name. */
  readonly calls = new Map<string, number>();

  /** The next call of `operation` (`<store>.<method>`) waits until released or failed. */
  hold(operation: string): HeldOperation {
    const hold = new Hold(operation);
    this.armed.set(operation, [...(this.armed.get(operation) ?? []), hold]);
    return hold;
  }

  /** `target` with each method call passing this gate as `<name>.<method>`. */
  wrap<T extends object>(name: string, target: T): T {
    return new Proxy(target, {
      get: (obj, key, receiver) => {
        const value = Reflect.get(obj, key, receiver) as unknown;
        if (typeof value !== 'function' || typeof key !== 'string') return value;
        return (...args: unknown[]) => this.pass(`${name}.${key}`, args, () => (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args));
      },
    });
  }

  private pass(operation: string, args: unknown[], run: () => Promise<unknown>): Promise<unknown> {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    const hold = this.armed.get(operation)?.shift();
    if (!hold) return run();
    return new Promise((resolve, reject) => {
      hold.waiting = { args, run, resolve, reject };
    });
  }
}
