import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * The root logger of a process. Structured JSON (pino); every line carries `node`, and
 * actors log through `forActor` so that every line also carries `actor`.
 * The level comes from `LOG_LEVEL` unless given; tests run quiet by default.
 */
export function createLogger(options: { node: string; level?: LevelWithSilent | string; name?: string }): Logger {
  const level = options.level ?? process.env['LOG_LEVEL'] ?? 'info';
  return pino({ level, base: { node: options.node, ...(options.name ? { name: options.name } : {}) } });
}

export function forActor(log: Logger, actor: string): Logger {
  return log.child({ actor });
}
