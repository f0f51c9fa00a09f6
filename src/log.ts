// A small leveled logger. Servers log one line per noteworthy event (a connection closed for a reason
// other than the peer leaving, a worker restarted, ...), never per message. Tests inject their own.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'text' | 'json';
  /** Written to; default process.stderr. */
  write?: (line: string) => void;
  /** Prefix, e.g. "worker 2". */
  name?: string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const json = options.format === 'json';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const name = options.name;
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    if (json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, name, message, ...fields }) + '\n');
      return;
    }
    let line = `c10k ${level}${name ? ` [${name}]` : ''}: ${message}`;
    if (fields) for (const key in fields) line += ` ${key}=${formatValue(fields[key])}`;
    write(line + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w.:/[\]-]+$/.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** A logger that keeps entries in memory (for tests and for the status endpoint's recent events). */
export function memoryLogger(): Logger & {
  entries: { level: LogLevel; message: string; fields?: LogFields }[];
} {
  const entries: { level: LogLevel; message: string; fields?: LogFields }[] = [];
  const push = (level: LogLevel) => (message: string, fields?: LogFields) => {
    entries.push({ level, message, fields });
  };
  return { entries, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}
