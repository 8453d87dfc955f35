/**
 * The Master: the cluster's entry point. While it leads, it hosts the ResourceManager and one
 * JobMaster per running job, accepts submissions, answers list / status / cancel, serves job
 * code to TaskExecutors, and keeps the results of finished jobs.
 *
 * States: `standby` (not leading: it only answers with what it knows) → `leader` (granted a
 * leader session) → `standby` again when leadership is revoked: its ResourceManager and
 * JobMasters stop at once, since a new leader owns the cluster now. `stopping` is final.
 */
import { assign, setup } from 'xstate';
import { reply, replyError, type ActorEnv, type ActorRef } from '../../lib/index.js';
import { RuntimeError } from '../../lib/errors.js';
import { jobMasterMachine } from '../jobmaster/machine.js';
import type { JobMasterMessage } from '../jobmaster/protocol.js';
import type { JobResult } from '../jobmaster/status.js';
import { resourceManagerMachine } from '../resourcemanager/machine.js';
import type { ResourceManagerMessage } from '../resourcemanager/protocol.js';
import { newJobId, prepareJob } from './job-preparation.js';
import type { JobSummary, MasterMessage, PreparedJob } from './protocol.js';

export interface MasterSettings {
  /** Where job code is stored. */
  workDir: string;
  slotRequestTimeoutMs: number;
  cancelTimeoutMs: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  maxCollectedRecords: number;
  defaultParallelism: number;
}

export interface MasterInput {
  env: ActorEnv;
  settings: MasterSettings;
}

interface RunningJob {
  summary: JobSummary;
  jobMaster: ActorRef<JobMasterMessage>;
}

interface Context extends MasterInput {
  leaderSessionId: string | null;
  resourceManager: ActorRef<ResourceManagerMessage> | null;
  running: Map<string, RunningJob>;
  results: Map<string, JobResult>;
  code: Map<string, Uint8Array>;
}

export const MasterErrorCode = { NotLeader: 'NOT_LEADER', UnknownJob: 'UNKNOWN_JOB', UnknownCode: 'UNKNOWN_CODE' } as const;

export const masterMachine = setup({
  types: { context: {} as Context, events: {} as MasterMessage, input: {} as MasterInput },
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
      });
      return { leaderSessionId: event.sessionId, resourceManager: rm };
    }),
    stepDown: assign(({ context }) => {
      context.env.log.warn({ leaderSessionId: context.leaderSessionId }, 'leadership revoked: stopping ResourceManager and JobMasters');
      for (const job of context.running.values()) context.env.system.stop(job.jobMaster);
      if (context.resourceManager) context.env.system.stop(context.resourceManager);
      return { leaderSessionId: null, resourceManager: null, running: new Map() };
    }),
    submit: ({ context, event }) => {
      if (event.type !== 'master.job.submit') return;
      const { env, settings } = context;
      const jobId = newJobId();
      const parallelism = event.parallelism ?? settings.defaultParallelism;
      const args = event.args ?? {};
      prepareJob(`${settings.workDir}/jobs`, event.code, { parallelism, args, ...(event.name ? { name: event.name } : {}) }).then(
        (prepared) => {
          context.code.set(prepared.codeHash, event.code);
          env.self.tell({
            type: 'master.job.prepared',
            jobId,
            prepared: { jobId, name: prepared.name, codeHash: prepared.codeHash, args, parallelism, submittedAt: Date.now(), jobGraph: prepared.jobGraph, replyTo: event.replyTo },
          });
        },
        (error: Error) => {
          env.log.warn({ err: error }, 'job submission rejected');
          replyError(event.replyTo, error);
        },
      );
    },
    startJob: ({ context, event }) => {
      if (event.type !== 'master.job.prepared') return;
      startJobMaster(context, event.prepared);
    },
    jobEnded: ({ context, event }) => {
      if (event.type !== 'master.job.ended' || event.leaderSessionId !== context.leaderSessionId) return;
      const { result } = event;
      context.running.delete(result.jobId);
      context.results.set(result.jobId, result);
    },
    jobMasterTerminated: ({ context, event }) => {
      if (event.type !== 'actor.terminated') return;
      for (const [jobId, job] of context.running) {
        if (!job.jobMaster.equals(event.ref)) continue;
        // It stopped without reporting a result: its machine failed beyond its supervision.
        context.running.delete(jobId);
        const failure = event.error ?? { code: 'JOB_MASTER_FAILED', message: `JobMaster stopped: ${event.reason}` };
        const now = Date.now();
        context.results.set(jobId, {
          jobId,
          name: job.summary.name,
          state: 'failed',
          submittedAt: job.summary.submittedAt,
          endedAt: now,
          collected: [],
          failure,
          details: { jobId, name: job.summary.name, state: 'failed', submittedAt: job.summary.submittedAt, endedAt: now, vertices: [], subtasks: [], slots: [], failure },
        });
      }
    },
    list: ({ context, event }) => {
      if (event.type !== 'master.job.list') return;
      const finished: JobSummary[] = [...context.results.values()].map((r) => ({
        jobId: r.jobId,
        name: r.name,
        state: r.state,
        submittedAt: r.submittedAt,
        endedAt: r.endedAt,
      }));
      reply(event.replyTo, [...[...context.running.values()].map((j) => j.summary), ...finished].sort((a, b) => a.submittedAt - b.submittedAt));
    },
    status: ({ context, event }) => {
      if (event.type !== 'master.job.status') return;
      const done = context.results.get(event.jobId);
      if (done) return reply(event.replyTo, done.details);
      const job = context.running.get(event.jobId);
      if (!job) return replyError(event.replyTo, unknownJob(event.jobId));
      job.jobMaster.ask({ type: 'jm.status' }, { timeoutMs: 5000 }).then(
        (details) => reply(event.replyTo, details),
        (err: Error) => replyError(event.replyTo, err),
      );
    },
    result: ({ context, event }) => {
      if (event.type !== 'master.job.result') return;
      if (context.results.has(event.jobId)) return reply(event.replyTo, context.results.get(event.jobId)!);
      if (context.running.has(event.jobId)) return reply(event.replyTo, null);
      replyError(event.replyTo, unknownJob(event.jobId));
    },
    cancel: ({ context, event }) => {
      if (event.type !== 'master.job.cancel') return;
      const done = context.results.get(event.jobId);
      if (done) return reply(event.replyTo, { state: done.state });
      const job = context.running.get(event.jobId);
      if (!job) return replyError(event.replyTo, unknownJob(event.jobId));
      job.jobMaster.ask({ type: 'jm.cancel' }, { timeoutMs: 5000 }).then(
        (answer) => reply(event.replyTo, answer),
        (err: Error) => replyError(event.replyTo, err),
      );
    },
    code: ({ context, event }) => {
      if (event.type !== 'master.code.get') return;
      const code = context.code.get(event.hash);
      if (code) reply(event.replyTo, code);
      else replyError(event.replyTo, new RuntimeError(MasterErrorCode.UnknownCode, `no job code with hash ${event.hash}`));
    },
    overview: ({ context, event }) => {
      if (event.type !== 'master.cluster.overview') return;
      context.resourceManager!.ask({ type: 'rm.overview' }, { timeoutMs: 5000 }).then(
        (overview) => reply(event.replyTo, overview),
        (err: Error) => replyError(event.replyTo, err),
      );
    },
    refuseNotLeader: ({ event }) => {
      const replyTo = (event as { replyTo?: ActorRef<never> }).replyTo;
      replyError(replyTo, new RuntimeError(MasterErrorCode.NotLeader, 'this Master is not the leader'));
    },
  },
}).createMachine({
  id: 'master',
  context: ({ input }) => ({ ...input, leaderSessionId: null, resourceManager: null, running: new Map(), results: new Map(), code: new Map() }),
  initial: 'standby',
  on: {
    'master.stop': '.stopping',
  },
  states: {
    standby: {
      on: {
        'master.leadership.granted': { target: 'leader', actions: 'becomeLeader' },
        'master.job.submit': { actions: 'refuseNotLeader' },
        'master.job.list': { actions: 'refuseNotLeader' },
        'master.job.status': { actions: 'refuseNotLeader' },
        'master.job.result': { actions: 'refuseNotLeader' },
        'master.job.cancel': { actions: 'refuseNotLeader' },
        'master.code.get': { actions: 'refuseNotLeader' },
        'master.cluster.overview': { actions: 'refuseNotLeader' },
      },
    },
    leader: {
      on: {
        'master.leadership.revoked': { target: 'standby', actions: 'stepDown' },
        'master.job.submit': { actions: 'submit' },
        'master.job.prepared': { actions: 'startJob' },
        'master.job.ended': { actions: 'jobEnded' },
        'master.job.list': { actions: 'list' },
        'master.job.status': { actions: 'status' },
        'master.job.result': { actions: 'result' },
        'master.job.cancel': { actions: 'cancel' },
        'master.code.get': { actions: 'code' },
        'master.cluster.overview': { actions: 'overview' },
        'actor.terminated': { actions: 'jobMasterTerminated' },
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

function unknownJob(jobId: string): RuntimeError {
  return new RuntimeError(MasterErrorCode.UnknownJob, `no job with id ${jobId}`);
}

function startJobMaster(context: Context, prepared: PreparedJob): void {
  const { env, settings } = context;
  const jobMaster = env.system.spawn(`jobmaster-${prepared.jobId}`, jobMasterMachine, {
    input: (jmEnv) => ({
      env: jmEnv,
      jobId: prepared.jobId,
      name: prepared.name,
      jobGraph: prepared.jobGraph,
      codeHash: prepared.codeHash,
      args: prepared.args,
      parallelism: prepared.parallelism,
      submittedAt: prepared.submittedAt,
      leaderSessionId: context.leaderSessionId!,
      master: env.self as ActorRef<MasterMessage>,
      resourceManager: context.resourceManager!,
      slotRequestTimeoutMs: settings.slotRequestTimeoutMs,
      cancelTimeoutMs: settings.cancelTimeoutMs,
      maxCollectedRecords: settings.maxCollectedRecords,
    }),
    // A JobMaster that throws has a bug, not a transient fault: stop it and fail the job clearly.
    supervision: { strategy: 'stop' },
  });
  env.system.watch(jobMaster, env.self);
  context.running.set(prepared.jobId, {
    jobMaster,
    summary: { jobId: prepared.jobId, name: prepared.name, state: 'running', submittedAt: prepared.submittedAt, endedAt: null },
  });
  env.log.info({ jobId: prepared.jobId, name: prepared.name, vertices: prepared.jobGraph.vertices.length }, 'job submitted');
  reply(prepared.replyTo, { jobId: prepared.jobId });
}
