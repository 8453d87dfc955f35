/**
 * Persisted actor state: an xstate actor's persisted snapshot (`getPersistedSnapshot`) saved
 * to a SnapshotStore on demand or every N events, and restored whenever the actor starts:
 * at spawn, after a supervision restart, and when a singleton moves to another node.
 *
 * How. `ActorPersistence.restore(logic, ...)` loads the last snapshot and returns a logic
 * to spawn in place of the original: the same machine (prototype delegation, so that its
 * events type is unchanged) whose `getInitialSnapshot` restores the last *saved* snapshot
 * instead of starting fresh, and whose `transition` notes each new snapshot. The actor cell
 * creates actors through `getInitialSnapshot` on every (re)start, so restores need no hook
 * in the cell, and the mailbox hot path is unchanged.
 *
 * Saves are serialized: one in flight, and the latest snapshot is saved after it; a save
 * that fails (fenced, etcd down, too large) is reported and the next one tries again.
 * `afterSave(fn)` runs `fn` once the state that includes the current event is stored: reply
 * to a request from there when the reply promises durability (a work queue's enqueue ack).
 */
import type { AnyActorLogic, AnyActorScope, EventObject, Snapshot } from 'xstate';
import type { Logger } from '../logging.js';
import { PersistenceClosedError } from './errors.js';
import type { SnapshotFence, SnapshotStore } from './types.js';

export interface PersistenceOptions {
  store: SnapshotStore;
  /** The snapshot's key in the store (one actor per key). */
  key: string;
  /** Save after every N processed events; 0 or absent: only on `save()` and `afterSave()`. */
  everyEvents?: number;
  /** Fence every write with a leadership term (singletons do this for you). */
  fence?: SnapshotFence;
  /**
   * The part of the context to store. The context is saved as is by default; drop what does
   * not serialize or belongs to one run (refs, clients, the fencing token).
   */
  persistContext?: (context: any) => unknown;
  /** Rebuild the context from the stored one and this start's input (re-attach what was dropped). */
  reviveContext?: (stored: any, input: any) => unknown;
  /** Failures of automatic saves; logged at warn when absent. */
  onSaveError?: (err: unknown) => void;
  log?: Logger;
}

interface Waiter {
  needed: number;
  onSaved: () => void;
  onFailed: (err: unknown) => void;
}

/**
 * @example
 * ```ts
 * const store = new EtcdSnapshotStore({ root: client.namespace(haRoot('my-service')) });
 * const persistence = await ActorPersistence.restore(counterMachine, { store, key: 'counter', everyEvents: 10 });
 * const counter = system.spawn('counter', persistence.logic, { supervision: { strategy: 'restart' } });
 * counter.tell({ type: 'inc', by: 1 });
 * await persistence.save();   // on demand; a restart or another process restores from here
 * persistence.close();
 * ```
 */
export class ActorPersistence<L extends AnyActorLogic> {
  /** Spawn this instead of the original logic. */
  readonly logic: L;
  /** True when a stored snapshot was found at `restore()`. */
  readonly restored: boolean;
  private readonly options: PersistenceOptions;
  private readonly inner: L;
  /** The last stored persisted snapshot: what a (re)start restores from. */
  private stored: unknown;
  private latest: Snapshot<unknown> | undefined;
  /** Snapshots noted so far, and the index of the last one stored. */
  private noted = 0;
  private savedIndex = 0;
  private sinceSave = 0;
  private inTransition = false;
  private loop: Promise<void> | null = null;
  private readonly waiters: Waiter[] = [];
  private closed = false;

  /** Load the last snapshot under `options.key` (if any) and wrap `logic` to restore it. */
  static async restore<L extends AnyActorLogic>(logic: L, options: PersistenceOptions): Promise<ActorPersistence<L>> {
    const stored = await options.store.load(options.key);
    return new ActorPersistence(logic, options, stored);
  }

  private constructor(logic: L, options: PersistenceOptions, stored: unknown) {
    this.inner = logic;
    this.options = options;
    this.stored = stored;
    this.restored = stored !== undefined;
    this.logic = this.wrap(logic);
  }

  /** Save the latest snapshot now; resolves once it (or a later one) is stored. */
  save(): Promise<void> {
    if (this.closed) return Promise.reject(new PersistenceClosedError(this.options.key));
    this.loop ??= this.run().finally(() => (this.loop = null));
    return this.loop;
  }

  /**
   * Run `onSaved` once the state that includes the event being processed now is stored
   * (call it from an action); `onFailed` if that save fails or persistence closes first.
   */
  afterSave(onSaved: () => void, onFailed: (err: unknown) => void = () => {}): void {
    // Inside a transition, the snapshot that includes this event is the next one noted.
    this.waiters.push({ needed: this.noted + (this.inTransition ? 1 : 0), onSaved, onFailed });
    queueMicrotask(() => void this.save().catch(() => undefined));
  }

  /** Stop saving (a revoked singleton must not write again); pending `afterSave`s fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = new PersistenceClosedError(this.options.key);
    for (const w of this.waiters.splice(0)) w.onFailed(err);
  }

  private async run(): Promise<void> {
    while (this.savedIndex < this.noted && !this.closed) {
      const index = this.noted;
      const persisted = this.persisted(this.latest!);
      try {
        await this.options.store.save(this.options.key, persisted, this.options.fence);
      } catch (err) {
        this.failWaiters(index, err);
        throw err;
      }
      this.stored = persisted;
      this.savedIndex = index;
      this.releaseWaiters();
    }
  }

  private persisted(snapshot: Snapshot<unknown>): unknown {
    const { persistContext } = this.options;
    // Strip before xstate walks the context: it recurses into everything it finds there.
    const stripped = persistContext && 'context' in snapshot ? { ...snapshot, context: persistContext(snapshot.context) } : snapshot;
    return this.inner.getPersistedSnapshot(stripped);
  }

  private note(snapshot: Snapshot<unknown>): void {
    // A stopped or failed actor's snapshot is not state to come back to.
    if (this.closed || (snapshot.status !== 'active' && snapshot.status !== 'done')) return;
    this.latest = snapshot;
    this.noted++;
    const every = this.options.everyEvents ?? 0;
    if (every > 0 && ++this.sinceSave >= every) {
      this.sinceSave = 0;
      this.save().catch((err: unknown) => this.reportSaveError(err));
    }
  }

  private releaseWaiters(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (w.needed > this.savedIndex) i++;
      else {
        this.waiters.splice(i, 1);
        w.onSaved();
      }
    }
  }

  private failWaiters(upTo: number, err: unknown): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (w.needed > upTo) i++;
      else {
        this.waiters.splice(i, 1);
        w.onFailed(err);
      }
    }
  }

  private reportSaveError(err: unknown): void {
    if (this.options.onSaveError) this.options.onSaveError(err);
    else this.options.log?.warn({ err, key: this.options.key }, 'snapshot save failed');
  }

  /** The same logic, restoring from the stored snapshot and noting every new one. */
  private wrap(logic: L): L {
    const wrapped = Object.create(logic) as L;
    // `this` must be the wrapper inside the machine's own methods, so that snapshots
    // refer to it and later transitions come back through it.
    const original = {
      getInitialSnapshot: logic.getInitialSnapshot,
      restoreSnapshot: logic.restoreSnapshot,
      transition: logic.transition,
    };
    const overrides: Partial<AnyActorLogic> = {
      getInitialSnapshot: (scope: AnyActorScope, input: unknown) => {
        const snapshot =
          this.stored === undefined
            ? original.getInitialSnapshot.call(wrapped, scope, input)
            : this.restoreFrom(this.stored, wrapped, scope, input, original.restoreSnapshot);
        this.note(snapshot);
        return snapshot;
      },
      transition: (snapshot: Snapshot<unknown>, event: EventObject, scope: AnyActorScope) => {
        this.inTransition = true;
        try {
          const next = original.transition.call(wrapped, snapshot, event, scope);
          if (event.type !== 'xstate.stop') this.note(next);
          return next;
        } finally {
          this.inTransition = false;
        }
      },
    };
    return Object.assign(wrapped, overrides);
  }

  private restoreFrom(
    stored: unknown,
    wrapped: L,
    scope: AnyActorScope,
    input: unknown,
    restore: AnyActorLogic['restoreSnapshot'],
  ): Snapshot<unknown> {
    let persisted = stored as { context?: unknown };
    const { reviveContext } = this.options;
    if (reviveContext && 'context' in persisted) persisted = { ...persisted, context: reviveContext(persisted.context, input) };
    const snapshot = persisted as Snapshot<unknown>;
    return (restore ? restore.call(wrapped, snapshot, scope) : snapshot) as Snapshot<unknown>;
  }
}
