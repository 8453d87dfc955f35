import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * The root logger of a process. Structured JSON (pino) when the output is a file or a pipe, as
 * it is for services, tests and log collectors; pretty, colored lines on a terminal. Every line
 * carries `node`, and actors log through `forActor` so that every line also carries `actor`.
 * The level comes from `LOG_LEVEL` unless given; tests run quiet by default.
 */
export function createLogger(options: { node?: string; level?: LevelWithSilent | string; name?: string } = {}): Logger {
  const level = options.level ?? process.env['LOG_LEVEL'] ?? 'info';
  const base: Record<string, string> = {};
  if (options.name) base['name'] = options.name;
  if (options.node) base['node'] = options.node;
  // Logs go to stderr: stdout carries results only (a job id, a savepoint path, a ready line),
  // so that `JOB=$(flinkish run --detached ...)` captures exactly the result.
  if (process.stderr.isTTY && process.env['LOG_FORMAT'] !== 'json') {
    // Synchronous, in this thread: no transport worker for a CLI that may exit at any moment.
    return pino({ level, base }, pretty({ colorize: true, sync: true, destination: 2, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' }));
  }
  return pino({ level, base }, pino.destination({ dest: 2, sync: true }));
}

export function forActor(log: Logger, actor: string): Logger {
  return log.child({ actor });
}
