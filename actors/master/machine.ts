/**
 * The Master: the cluster's entry point. While it leads, it hosts the ResourceManager and one
 * JobMaster per running job, accepts submissions, answers list / status / cancel, serves job
 * code to TaskExecutors, and keeps the results of finished jobs.
 *
 * States: `standby` (not leading: requests are refused with NOT_LEADER) → `leader`, which
 * first `recovering` (with HA: load the results of ended jobs and restart every job that has
 * not ended, from its latest checkpoint; requests are refused with RECOVERING, which clients
 * retry) and then `serving`. Leadership revoked → `standby` at once: its ResourceManager and
 * JobMasters stop, since a new leader owns the cluster now. `stopping` is final.
 */
import { randomUUID } from 'node:crypto';
import { assign, enqueueActions, fromPromise, setup } from 'xstate';
import { reply, replyError, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { RuntimeError, toWireError } from '../../lib/errors.js';
import { resolveWithinRoots } from '../../lib/util/path-roots.js';
import { jobMasterMachine } from '../jobmaster/machine.js';
import { JOB_MASTER_LOCAL_EVENTS, type JobMasterMessage } from '../jobmaster/protocol.js';
import { resultWithoutReport, type JobResult } from '../jobmaster/status.js';
import { resourceManagerMachine } from '../resourcemanager/machine.js';
import { RESOURCE_MANAGER_LOCAL_EVENTS, type ResourceManagerMessage } from '../resourcemanager/protocol.js';
import type { LeaderStores, MasterHa, StoredJob } from './ha.js';
import { moduleLimit, newJobId, prepareJob } from './job-preparation.js';
import { CLIENT_MESSAGE_TYPES, type JobSummary, type MasterMessage, type PreparedJob, type SubmitJob } from './protocol.js';
import { persistResult, recoverJobs, resultBlobStore, withCollected, type Recovered } from './recovery.js';
import type { FileBlobStore } from '../../lib/ha/blob-store.js';
import { settleSavepointsAndStops } from './savepoint-recovery.js';
import { sleep, type Clock } from '../../lib/util/clock.js';
import { HaErrorCode } from '../../lib/ha/errors.js';
import { claimSinkDirs, releaseEndedJob } from './sink-ownership.js';
import { readSavepoint } from '../jobmaster/restore.js';
import { takeoverMachine } from './takeover.js';
import { admitSession } from '../fencing.js';
import type { Logger } from '../../lib/logging.js';
import { MasterErrorCode } from './errors.js';

export interface MasterSettings {
  /** The Master's working directory. */
  workDir: string;
  /** Checkpoint storage shared by the TaskExecutors. */
  checkpointDir: string;
  /** Default directory of savepoints. */
  savepointDir: string;
  /** Directories a client may name as savepoint target (default: savepointDir only). */
  savepointRoots?: string[];
  slotRequestTimeoutMs: number;
  cancelTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** How long a recovered job waits for reports of its running tasks before it restarts (default: heartbeatTimeoutMs). */
  reconcileTimeoutMs?: number;
  maxCollectedRecords: number;
  defaultParallelism: number;
  /** Limits of a submitted module's evaluation (job-sandbox.ts) and of its size. */
  jobBuildTimeoutMs: number;
  jobBuildMemoryMb: number;
  jobModuleMaxBytes: number;
}

export interface MasterInput {
  env: ActorEnv;
  settings: MasterSettings;
  /** HA services, or null in standalone mode. */
  ha: MasterHa | null;
}

interface RunningJob {
  summary: JobSummary;
  jobMaster: ActorRef<JobMasterMessage>;
}

interface Context extends MasterInput {
  leaderSessionId: string | null;
  stores: LeaderStores | null;
  resourceManager: ActorRef<ResourceManagerMessage> | null;
  running: Map<string, RunningJob>;
  results: Map<string, JobResult>;
  /**
   * Ended jobs whose result is being written to etcd. Their state is shown, but their result is
   * given only once it is durable: a client told "finished" must never see the job run again
   * under the next leader (the graph is removed only after the result is stored).
   */
  persisting: Map<string, JobResult>;
  code: Map<string, Uint8Array>;
  /** Jobs between submission and start: their sink claims are live before their graph is stored. */
  submitting: Set<string>;
  /** Relays started so far: each relay child's id is unique. */
  relaySeq: number;
  /** Collected records of ended jobs, which etcd references but does not hold. */
  blobs: FileBlobStore;
}

/** Requests from clients and TaskExecutors; refused while not serving. */
const REQUESTS = [...CLIENT_MESSAGE_TYPES, 'master.code.get', 'master.cluster.shutdown'] as const;

const refuseAll = (code: string) => Object.fromEntries(REQUESTS.map((type) => [type, { actions: { type: 'refuse', params: { code } } }]));

export const masterMachine = setup({
  types: { context: {} as Context, events: {} as MasterMessage, input: {} as MasterInput },
  actors: {
    recover: fromPromise<Recovered, { stores: LeaderStores | null; blobs: FileBlobStore; log: Logger; clock: Clock }>(async ({ input: { stores, blobs, log, clock } }) => {
      const recovered = await recoverJobs(stores);
      return stores ? settleSavepointsAndStops(stores, blobs, recovered, log, clock) : recovered;
    }),
    // One per submission: its module is evaluated in a worker thread that leaving `serving` terminates.
    prepareSubmission: fromPromise<void, Submission>(({ input, signal }) => prepareSubmission(input, signal)),
    // While standing by: take over at once when the leader's process is proven dead (takeover.ts).
    takeover: takeoverMachine,
    // One per ended job: its result written to etcd (with retries), which leaving `leader` stops.
    persistEndedJob: fromPromise<void, EndedJob>(({ input, signal }) => persistEndedJob(input, signal)),
    // One per request answered by another actor or a store: whatever the Master's state meanwhile,
    // the requester gets that answer, or an error if the Master stops first.
    relay: fromPromise<void, Relay>(({ input, signal }) => relayRequest(input, signal)),
  },
  delays: { recoveryRetry: 1000 },
  actions: {
    becomeLeader: assign(({ context, event }) => {
      if (event.type !== 'master.leadership.granted') return {};
      const { env, settings } = context;
      env.log.info({ leaderSessionId: event.sessionId }, 'granted leadership');
      const rm = env.system.spawn('resourcemanager', resourceManagerMachine, {
        input: (rmEnv) => ({
          env: rmEnv,
          leaderSessionId: event.sessionId,
          heartbeatIntervalMs: settings.heartbeatIntervalMs,
          heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
        }),
        localOnly: RESOURCE_MANAGER_LOCAL_EVENTS,
        // A message it takes no transition for is a dead letter, and an ask fails at once.
        reportUnhandled: true,
      });
      return { leaderSessionId: event.sessionId, resourceManager: rm, stores: context.ha?.storesForCurrentTerm() ?? null };
    }),
    stepDown: assign(({ context }) => {
      context.env.log.warn({ leaderSessionId: context.leaderSessionId }, 'leadership revoked: stopping ResourceManager and JobMasters');
      for (const job of context.running.values()) job.jobMaster.tell({ type: 'jm.suspend' });
      if (context.resourceManager) context.env.system.stop(context.resourceManager);
      return { leaderSessionId: null, resourceManager: null, stores: null, running: new Map(), results: new Map(), persisting: new Map() };
    }),
    adoptRecovered: ({ context }, recovered: Recovered) => {
      for (const result of recovered.results) context.results.set(result.jobId, result);
      for (const job of recovered.jobs) {
        context.code.set(job.codeHash, job.code);
        startJobMaster(context, { ...job, replyTo: null, recovered: true });
      }
      // Slots TaskExecutors kept for any other job (it ended meanwhile) have nobody to adopt them.
      context.resourceManager?.tell({ type: 'rm.jobs.recovered', leaderSessionId: context.leaderSessionId!, jobIds: recovered.jobs.map((j) => j.jobId) });
      context.env.log.info({ recovered: recovered.jobs.length, results: recovered.results.length }, 'recovery done: serving');
    },
    submit: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.submit') return;
      const jobId = newJobId();
      const { env, settings, stores } = context;
      context.submitting.add(jobId);
      // A job still being prepared counts as live for the sink claims of the others.
      const isLocallyLive = (id: string) => context.running.has(id) || (id !== jobId && context.submitting.has(id));
      const done = () => context.submitting.delete(jobId);
      enqueue.spawnChild('prepareSubmission', { id: `${BUILD_PREFIX}${jobId}`, input: { jobId, env, settings, stores, submission: event, isLocallyLive, done } });
    }),
    /** A build still running when the Master stops serving is terminated; its client gets NOT_LEADER. */
    cancelBuilds: enqueueActions(({ self, enqueue }) => {
      for (const id of Object.keys(self.getSnapshot().children)) if (id.startsWith(BUILD_PREFIX)) enqueue.stopChild(id);
    }),
    /** A finished build, result write or relay leaves the machine's children: nothing grows with the number of jobs or requests. */
    forgetChild: enqueueActions(({ event, enqueue }) => {
      const { actorId } = event as unknown as { actorId?: string };
      if (actorId?.startsWith(BUILD_PREFIX) || actorId?.startsWith(PERSIST_PREFIX) || actorId?.startsWith(RELAY_PREFIX)) enqueue.stopChild(actorId);
    }),
    startJob: ({ context, event }) => {
      if (event.type !== 'master.job.prepared') return;
      context.code.set(event.prepared.codeHash, event.prepared.code);
      startJobMaster(context, event.prepared);
    },
    jobEnded: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.ended' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      const { result } = event;
      context.running.delete(result.jobId);
      if (!context.stores) {
        context.results.set(result.jobId, result);
        return;
      }
      context.persisting.set(result.jobId, result);
      // A child of the machine, stopped when this term ends (`stopPersists`): its writes are this term's.
      const input: EndedJob = { stores: context.stores, blobs: context.blobs, env: context.env, leaderSessionId: context.leaderSessionId!, result };
      enqueue.spawnChild('persistEndedJob', { id: `${PERSIST_PREFIX}${result.jobId}`, input });
    }),
    /** The term is over: the next leader runs the last attempt of a job whose result was not yet durable again, and reports it. */
    stopPersists: enqueueActions(({ self, enqueue }) => {
      for (const id of Object.keys(self.getSnapshot().children)) if (id.startsWith(PERSIST_PREFIX)) enqueue.stopChild(id);
    }),
    resultPersisted: ({ context, event }) => {
      if (event.type !== 'master.job.persisted' || !admitSession(context.leaderSessionId, event, context.env.log)) return;
      const result = context.persisting.get(event.jobId);
      if (!result) return;
      context.persisting.delete(event.jobId);
      context.results.set(event.jobId, result);
    },
    jobMasterTerminated: ({ context, event }) => {
      if (event.type !== 'actor.terminated') return;
      for (const [jobId, job] of context.running) {
        if (!job.jobMaster.equals(event.ref)) continue;
        // It stopped without reporting a result: its machine failed beyond its supervision.
        context.running.delete(jobId);
        const failure = event.error ?? { code: MasterErrorCode.JobMasterFailed, message: `JobMaster stopped: ${event.reason}` };
        context.results.set(jobId, resultWithoutReport(job.summary, { state: 'failed', endedAt: context.env.clock.now(), failure }));
      }
    },
    list: ({ context, event }) => {
      if (event.type !== 'master.job.list') return;
      const ended: JobSummary[] = [...context.results.values(), ...context.persisting.values()].map((r) => ({
        jobId: r.jobId,
        name: r.name,
        state: r.state,
        submittedAt: r.submittedAt,
        endedAt: r.endedAt,
        ...(r.stoppedWithSavepoint ? { stoppedWithSavepoint: r.stoppedWithSavepoint } : {}),
      }));
      const all = [...[...context.running.values()].map((j) => j.summary), ...ended];
      reply(event.replyTo, all.sort((a, b) => a.submittedAt - b.submittedAt));
    },
    status: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.status') return;
      const done = endedJob(context, event.jobId);
      if (done) return reply(event.replyTo, done.details);
      const job = context.running.get(event.jobId);
      if (!job) return replyError(event.replyTo, unknownJob(event.jobId));
      relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: false, answer: () => job.jobMaster.ask({ type: 'jm.status' }, { timeoutMs: 5000 }) });
    }),
    result: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.result') return;
      const done = context.results.get(event.jobId);
      if (done) {
        const { blobs } = context;
        return relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: false, answer: () => withCollected(blobs, done) });
      }
      // Running, or ended and not yet durable: no result yet.
      if (context.running.has(event.jobId) || context.persisting.has(event.jobId)) return reply(event.replyTo, null);
      replyError(event.replyTo, unknownJob(event.jobId));
    }),
    cancel: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.cancel') return;
      const done = endedJob(context, event.jobId);
      if (done) return reply(event.replyTo, { state: done.state });
      const job = context.running.get(event.jobId);
      if (!job) return replyError(event.replyTo, unknownJob(event.jobId));
      relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: true, answer: () => job.jobMaster.ask({ type: 'jm.cancel' }, { timeoutMs: 5000 }) });
    }),
    savepoint: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.savepoint') return;
      const job = context.running.get(event.jobId);
      if (!job) {
        const done = endedJob(context, event.jobId);
        return replyError(event.replyTo, done ? new RuntimeError(MasterErrorCode.JobEnded, `job ${event.jobId} has ended (${done.state})`) : unknownJob(event.jobId));
      }
      let dir: string | undefined;
      try {
        dir = event.dir === undefined ? undefined : resolveWithinRoots('savepoint target', event.dir, context.settings.savepointRoots ?? [context.settings.savepointDir]);
      } catch (err) {
        return replyError(event.replyTo, err as Error);
      }
      const timeoutMs = 10 * 60_000;
      const requestId = event.requestId ?? randomUUID();
      const ask = { type: 'jm.savepoint', stop: event.stop, requestId, ...(dir ? { dir } : {}) } as const;
      relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: true, answer: () => job.jobMaster.ask(ask, { timeoutMs }) });
    }),
    savepoints: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.job.savepoints') return;
      const { stores } = context;
      if (!stores) return reply(event.replyTo, []);
      const { jobId } = event;
      relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: false, answer: () => stores.savepoints.list(jobId) });
    }),
    code: ({ context, event }) => {
      if (event.type !== 'master.code.get') return;
      const code = context.code.get(event.hash);
      if (code) reply(event.replyTo, code);
      else replyError(event.replyTo, new RuntimeError(MasterErrorCode.UnknownCode, `no job code with hash ${event.hash}`));
    },
    overview: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.cluster.overview') return;
      const rm = context.resourceManager!;
      relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: false, answer: () => rm.ask({ type: 'rm.overview' }, { timeoutMs: 5000 }) });
    }),
    shutdownCluster: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.cluster.shutdown') return;
      const rm = context.resourceManager!;
      const ask = { type: 'rm.shutdown', leaderSessionId: context.leaderSessionId! } as const;
      relay(context, enqueue, { request: event.type, replyTo: event.replyTo, acts: true, answer: () => rm.ask(ask, { timeoutMs: 5000 }) });
    }),
    refuse: ({ event }, { code }: { code: string }) => {
      const replyTo = (event as { replyTo?: ActorRef<never> }).replyTo;
      const message = code === MasterErrorCode.Recovering ? 'the new leader is recovering its jobs; retry shortly' : 'this Master is not the leader';
      replyError(replyTo, new RuntimeError(code, message));
    },
  },
}).createMachine({
  id: 'master',
  context: ({ input }) => ({
    ...input,
    leaderSessionId: null,
    stores: null,
    resourceManager: null,
    running: new Map(),
    results: new Map(),
    persisting: new Map(),
    code: new Map(),
    submitting: new Set(),
    relaySeq: 0,
    blobs: resultBlobStore(input.settings.checkpointDir),
  }),
  initial: 'standby',
  on: {
    'master.stop': '.stopping',
    // Relays end in any state (a build or a result write only where it runs: see `serving`).
    'xstate.done.actor.*': { actions: 'forgetChild' },
  },
  states: {
    standby: {
      invoke: { src: 'takeover', input: ({ context }) => ({ services: context.ha?.takeover ?? null, log: context.env.log }) },
      on: {
        'master.leadership.granted': { target: 'leader', actions: 'becomeLeader' },
        // The JobMasters of the term that ended stop once suspended: expected, nothing to do.
        'actor.terminated': { actions: ({ context, event }) => context.env.log.debug({ actor: event.ref.path }, 'an actor of the ended term stopped') },
        ...refuseAll(MasterErrorCode.NotLeader),
      },
    },
    leader: {
      initial: 'recovering',
      exit: 'stopPersists',
      on: {
        'master.leadership.revoked': { target: 'standby', actions: 'stepDown' },
        'master.job.ended': { actions: 'jobEnded' },
        'master.job.persisted': { actions: 'resultPersisted' },
        'actor.terminated': { actions: 'jobMasterTerminated' },
        // The RM serves code to TaskExecutors that deploy recovered jobs even while recovering.
        'master.code.get': { actions: 'code' },
      },
      states: {
        recovering: {
          invoke: {
            src: 'recover',
            input: ({ context }) => ({ stores: context.stores, blobs: context.blobs, log: context.env.log, clock: context.env.clock }),
            onDone: { target: 'serving', actions: { type: 'adoptRecovered', params: ({ event }) => event.output } },
            onError: {
              target: 'retryingRecovery',
              actions: ({ context, event }) => context.env.log.warn({ err: toWireError(event.error) }, 'job recovery failed; retrying'),
            },
          },
          on: { ...refuseAll(MasterErrorCode.Recovering), 'master.code.get': { actions: 'code' } },
        },
        retryingRecovery: {
          after: { recoveryRetry: 'recovering' },
          on: { ...refuseAll(MasterErrorCode.Recovering), 'master.code.get': { actions: 'code' } },
        },
        serving: {
          exit: 'cancelBuilds',
          on: {
            'xstate.done.actor.*': { actions: 'forgetChild' },
            'xstate.error.actor.*': { actions: 'forgetChild' },
            'master.job.submit': { actions: 'submit' },
            'master.job.prepared': { actions: 'startJob' },
            'master.job.list': { actions: 'list' },
            'master.job.status': { actions: 'status' },
            'master.job.result': { actions: 'result' },
            'master.job.cancel': { actions: 'cancel' },
            'master.job.savepoint': { actions: 'savepoint' },
            'master.job.savepoints': { actions: 'savepoints' },
            'master.cluster.overview': { actions: 'overview' },
            'master.cluster.shutdown': { actions: 'shutdownCluster' },
          },
        },
      },
    },
    stopping: {
      type: 'final',
      entry: ({ context }) => {
        for (const job of context.running.values()) context.env.system.stop(job.jobMaster);
        if (context.resourceManager) context.env.system.stop(context.resourceManager);
      },
    },
  },
});

const BUILD_PREFIX = 'build-';
const PERSIST_PREFIX = 'persist-';
const RELAY_PREFIX = 'relay-';

interface Relay {
  /** The request's type, for the error if the Master stops first. */
  request: string;
  replyTo: ActorRef<never> | undefined;
  /**
   * Whether the request may act (cancel, savepoint, shutdown): if the Master stops before the
   * answer, its outcome is unknown (LEADERSHIP_LOST: the client looks it up) rather than
   * certainly not taken (NOT_LEADER: the client asks the next leader).
   */
  acts: boolean;
  answer: () => Promise<unknown>;
}

/** Relay one request as a child of the machine (see `relayRequest`). */
function relay(context: Context, enqueue: { spawnChild: (src: 'relay', options: { id: string; input: Relay }) => void }, input: Relay): void {
  enqueue.spawnChild('relay', { id: `${RELAY_PREFIX}${++context.relaySeq}`, input });
}

/**
 * Answer the requester with what `answer` resolves to, or its error. The asks relayed have
 * their own timeouts, so a relay ends in bounded time whatever the Master does; leaving a state
 * does not end it, since its answer belongs to the requester. Only the Master stopping does,
 * with an error at once.
 */
async function relayRequest({ request, replyTo, acts, answer }: Relay, signal: AbortSignal): Promise<void> {
  let answered = false;
  const once = (send: () => void): void => {
    if (answered) return;
    answered = true;
    send();
  };
  const onStop = (): void =>
    once(() =>
      replyError(
        replyTo,
        acts
          ? new RuntimeError(HaErrorCode.LeadershipLost, `the Master stopped while it relayed ${request}; its outcome is the next leader's to report`)
          : new RuntimeError(MasterErrorCode.NotLeader, `the Master stopped while it relayed ${request}; ask the leader`),
      ),
    );
  signal.addEventListener('abort', onStop, { once: true });
  try {
    const value = await answer();
    once(() => reply(replyTo, value));
  } catch (err) {
    once(() => replyError(replyTo, err as Error));
  } finally {
    signal.removeEventListener('abort', onStop);
  }
}

interface EndedJob {
  stores: LeaderStores;
  blobs: FileBlobStore;
  env: ActorEnv;
  leaderSessionId: string;
  result: JobResult;
}

/**
 * Write an ended job's result (retried with backoff), then tell the machine it is durable and
 * release the job's sink claims. Stopped with its term (`signal`): a lost leadership fences
 * every write of the term anyway, and the next leader runs the job's last attempt again from
 * its checkpoint, and reports it.
 */
async function persistEndedJob({ stores, blobs, env, leaderSessionId, result }: EndedJob, signal: AbortSignal): Promise<void> {
  const { jobId } = result;
  for (let attempt = 1; ; attempt++) {
    try {
      await persistResult(stores, blobs, result);
      break;
    } catch (err) {
      if ((err as { code?: unknown }).code === HaErrorCode.LeadershipLost || attempt >= PERSIST_RESULT_ATTEMPTS) {
        env.log.error({ err, jobId }, 'the job result was not persisted; the next leader runs its last attempt again and reports it');
        return;
      }
      env.log.warn({ err, jobId, attempt }, 'could not persist the job result; retrying');
      await sleep(env.clock, Math.min(5000, 250 * 2 ** attempt));
      if (signal.aborted) return;
    }
  }
  if (signal.aborted) return; // durable, but the claims are the next leader's to release now
  env.self.tell({ type: 'master.job.persisted', leaderSessionId, jobId });
  await releaseEndedJob(stores, jobId).catch((err: unknown) =>
    env.log.warn({ err, jobId }, 'could not release the sink claims of an ended job; the next leader releases them'),
  );
}

interface Submission {
  jobId: string;
  env: ActorEnv;
  settings: MasterSettings;
  stores: LeaderStores | null;
  submission: SubmitJob & { replyTo: ActorRef<{ jobId: string }> };
  isLocallyLive: (jobId: string) => boolean;
  done: () => void;
}

/** Check, evaluate (in a worker thread) and store a submitted job, then hand it to the machine. */
async function prepareSubmission({ jobId, env, settings, stores, submission, isLocallyLive, done }: Submission, signal: AbortSignal): Promise<void> {
  const parallelism = submission.parallelism ?? settings.defaultParallelism;
  const args = submission.args ?? {};
  try {
    const prepared = await prepareJob(submission.code, {
      parallelism,
      args,
      ...(submission.name ? { name: submission.name } : {}),
      ...(submission.fileName ? { fileName: submission.fileName } : {}),
      moduleLimit: moduleLimit(settings.jobModuleMaxBytes, stores !== null),
      limits: { timeoutMs: settings.jobBuildTimeoutMs, memoryMb: settings.jobBuildMemoryMb },
      log: env.log,
      signal,
    });
    if (prepared.jobConfig.checkpointing && !stores) {
      throw new RuntimeError(
        MasterErrorCode.CheckpointingNeedsHa,
        'the job enables checkpointing, which needs the HA services: start the cluster with etcd (--etcd)',
      );
    }
    // Refused now, not at deployment: a savepoint that never completed has no _metadata.
    const savepoint = submission.fromSavepoint ? await readSavepoint(submission.fromSavepoint) : null;
    if (stores) {
      await claimSinkDirs(stores, { jobId, sinkDirs: prepared.sinkDirs, savepointOf: savepoint?.jobId ?? null, isLocallyLive });
    }
    const stored: StoredJob = {
      jobId,
      name: prepared.name,
      codeHash: prepared.codeHash,
      code: submission.code,
      args,
      parallelism,
      submittedAt: env.clock.now(),
      jobGraph: prepared.jobGraph,
      jobConfig: prepared.jobConfig,
      fromSavepoint: submission.fromSavepoint ?? null,
    };
    if (signal.aborted) throw new RuntimeError(MasterErrorCode.NotLeader, 'this Master stopped leading while it prepared the job; submit to the new leader');
    // Stored before it runs: a new leader must find every job it has to run.
    await stores?.jobGraphs.put(jobId, stored).catch(async (err: unknown) => {
      await stores.sinkClaims.release(jobId).catch(() => undefined); // else the next leader releases it
      throw err;
    });
    // Stored under this term: if the term has just ended, the new leader recovers and runs it.
    if (signal.aborted) return reply(submission.replyTo, { jobId });
    env.self.tell({ type: 'master.job.prepared', jobId, prepared: { ...stored, replyTo: submission.replyTo, recovered: false } });
  } catch (error) {
    env.log.warn({ err: toWireError(error) }, 'job submission rejected');
    replyError(submission.replyTo, error as Error);
  } finally {
    done();
  }
}

/** Writes of a result retried (with backoff up to 5 s: about a minute) before the term gives up on it. */
const PERSIST_RESULT_ATTEMPTS = 16;

/** An ended job's result, durable or still being written. */
function endedJob(context: Context, jobId: string): JobResult | undefined {
  return context.results.get(jobId) ?? context.persisting.get(jobId);
}

function unknownJob(jobId: string): RuntimeError {
  return new RuntimeError(MasterErrorCode.UnknownJob, `no job with id ${jobId}`);
}

function startJobMaster(context: Context, prepared: PreparedJob): void {
  const { env, settings } = context;
  const name = `jobmaster-${prepared.jobId}`;
  // A JobMaster of an earlier term of ours may still be winding down (suspended).
  env.system.stop(env.system.ref(env.system.node, name));
  const jobMaster = env.system.spawn(name, jobMasterMachine, {
    input: (jmEnv) => ({
      env: jmEnv,
      job: prepared,
      leaderSessionId: context.leaderSessionId!,
      master: env.self as ActorRef<MasterMessage>,
      resourceManager: context.resourceManager!,
      stores: context.stores,
      checkpointDir: settings.checkpointDir,
      savepointDir: settings.savepointDir,
      slotRequestTimeoutMs: settings.slotRequestTimeoutMs,
      cancelTimeoutMs: settings.cancelTimeoutMs,
      reconcileTimeoutMs: settings.reconcileTimeoutMs ?? settings.heartbeatTimeoutMs,
      maxCollectedRecords: settings.maxCollectedRecords,
    }),
    // A JobMaster that throws has a bug, not a transient fault: stop it and fail the job clearly.
    supervision: { strategy: 'stop' },
    localOnly: JOB_MASTER_LOCAL_EVENTS,
    // A message its state does not take is reported, and an ask (a savepoint while restarting) fails at once.
    reportUnhandled: true,
  });
  env.system.watch(jobMaster, env.self);
  context.running.set(prepared.jobId, {
    jobMaster,
    summary: { jobId: prepared.jobId, name: prepared.name, state: 'running', submittedAt: prepared.submittedAt, endedAt: null },
  });
  env.log.info(
    { jobId: prepared.jobId, name: prepared.name, leaderSessionId: context.leaderSessionId },
    prepared.recovered ? 'job recovered' : 'job submitted',
  );
  if (prepared.replyTo) reply(prepared.replyTo, { jobId: prepared.jobId });
}
