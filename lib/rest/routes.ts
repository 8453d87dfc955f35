/**
 * The REST endpoints. Reads are open; mutations need the bearer token. Every answer comes from
 * asks to the Master actor (through the gateway) or from the leadership tracker.
 */
import type { IncomingMessage } from 'node:http';
import { isAbsolute } from 'node:path';
import { requireToken } from './auth.js';
import { badRequest } from './errors.js';
import type { MasterGateway } from './gateway.js';
import { readJson } from './http.js';
import type { LeaderTracker } from './leadership.js';
import { Router, type Params } from './router.js';
import { resolveWithinRoots } from '../util/path-roots.js';
import { toCheckpoints, toExceptions, toJob, toJobSummary, toOverview, toTaskExecutors } from './shapes.js';
import { SeriesStore } from '../dashboard/series.js';

export interface RouteContext {
  req: IncomingMessage;
  params: Params;
}

export interface Answer {
  status?: number;
  body: unknown;
}

export interface Route {
  handle(ctx: RouteContext): Promise<Answer>;
  /** Answered only by the leader; a standby redirects to it (421 or 503 with `leader`). */
  leaderOnly: boolean;
}

export interface RouteDeps {
  gateway: MasterGateway;
  leadership: LeaderTracker;
  token: string;
  now: () => number;
  /** Where a savepoint's targetDirectory may lie; outside, 403 PATH_OUTSIDE_ROOTS. */
  savepointRoots: readonly string[];
  /** The leader's sampled time series (the dashboard's charts). */
  series: SeriesStore;
}

const JOB_ID = /^[\w.-]{1,128}$/;

function jobId(params: Params): string {
  const id = params['id']!;
  if (!JOB_ID.test(id)) throw badRequest(`malformed job id '${id.slice(0, 64)}'`);
  return id;
}

export function apiRoutes({ gateway, leadership, token, now, savepointRoots, series }: RouteDeps): Router<Route> {
  const read = (handle: Route['handle']): Route => ({ handle, leaderOnly: true });
  const router = new Router<Route>();
  router
    .add('GET', '/api/overview', read(async () => {
      const [overview, { summaries }] = await Promise.all([gateway.overview(), gateway.jobs()]);
      const t = now();
      return { body: toOverview(overview, summaries.map((s) => toJobSummary(s, t)), leadership.current()) };
    }))
    .add('GET', '/api/taskexecutors', read(async () => ({ body: toTaskExecutors(await gateway.overview()) })))
    .add('GET', '/api/taskexecutors/series', read(async () => ({ body: series.taskExecutorSeries() })))
    .add('GET', '/api/jobs', read(async () => {
      const { summaries } = await gateway.jobs();
      const t = now();
      return { body: summaries.map((s) => toJobSummary(s, t)) };
    }))
    .add('GET', '/api/jobs/:id', read(async ({ params }) => ({ body: toJob(await gateway.status(jobId(params)), now()) })))
    .add('GET', '/api/jobs/:id/checkpoints', read(async ({ params }) => ({ body: toCheckpoints(await gateway.status(jobId(params))) })))
    .add('GET', '/api/jobs/:id/series', read(async ({ params }) => {
      const id = jobId(params);
      // Not sampled (yet): still a 404 for a job that does not exist.
      return { body: series.series(id) ?? SeriesStore.empty(await gateway.status(id), series.options) };
    }))
    .add('GET', '/api/jobs/:id/exceptions', read(async ({ params }) => ({ body: toExceptions(await gateway.status(jobId(params))) })))
    .add('GET', '/api/jobs/:id/savepoints', read(async ({ params }) => ({ body: await gateway.savepoints(jobId(params)) })))
    .add('GET', '/api/leader', {
      leaderOnly: false,
      handle: async () => ({ body: { isLeader: leadership.isLeader, node: leadership.node, leader: leadership.current(), history: leadership.history() } }),
    })
    .add('POST', '/api/jobs/:id/cancel', {
      leaderOnly: true,
      handle: async ({ req, params }) => {
        requireToken(req, token);
        const id = jobId(params);
        await readJson(req);
        const { state } = await gateway.cancel(id);
        // 202: cancellation is under way; an ended job keeps the state it ended in.
        return { status: ['finished', 'failed', 'canceled'].includes(state) ? 200 : 202, body: { jobId: id, state } };
      },
    })
    .add('POST', '/api/jobs/:id/savepoints', {
      leaderOnly: true,
      handle: async ({ req, params }) => {
        requireToken(req, token);
        const id = jobId(params);
        const request = savepointRequest(await readJson(req), savepointRoots);
        // Synchronous: the answer comes once the savepoint is written (or failed).
        const { path } = await gateway.savepoint(id, { stop: request.cancelJob, ...(request.targetDirectory ? { dir: request.targetDirectory } : {}) });
        return { status: 200, body: { jobId: id, path, canceled: request.cancelJob } };
      },
    });
  return router;
}

/** `{ targetDirectory?: string, cancelJob?: boolean }`, as Flink's REST API takes it. */
function savepointRequest(body: unknown, roots: readonly string[]): { targetDirectory?: string; cancelJob: boolean } {
  if (body === undefined) return { cancelJob: false };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body must be a JSON object');
  const { targetDirectory, cancelJob, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw badRequest(`unknown field(s): ${unknown.join(', ')}; allowed: targetDirectory, cancelJob`);
  // Absolute: a relative path would silently depend on the Master's working directory.
  if (targetDirectory !== undefined && (typeof targetDirectory !== 'string' || !isAbsolute(targetDirectory))) {
    throw badRequest('targetDirectory must be an absolute path on the Master');
  }
  if (cancelJob !== undefined && typeof cancelJob !== 'boolean') throw badRequest('cancelJob must be a boolean');
  // Checked here (and again by the Master, for every client): normalized, inside a root.
  const target = targetDirectory === undefined ? undefined : resolveWithinRoots('targetDirectory', targetDirectory, roots);
  return { ...(target ? { targetDirectory: target } : {}), cancelJob: cancelJob === true };
}
