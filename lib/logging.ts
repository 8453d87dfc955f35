import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * The root logger of a process. Structured JSON (pino); every line carries `node`, and
 * actors log through `forActor` so that every line also carries `actor`.
 * The level comes from `LOG_LEVEL` unless given; tests run quiet by default.
 */
export function createLogger(options: { node?: string; level?: LevelWithSilent | string; name?: string } = {}): Logger {
  const level = options.level ?? process.env['LOG_LEVEL'] ?? 'info';
  const base: Record<string, string> = {};
  if (options.name) base['name'] = options.name;
  if (options.node) base['node'] = options.node;
  return pino({ level, base });
}

export function forActor(log: Logger, actor: string): Logger {
  return log.child({ actor });
}
