import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';

/** Bytes of log lines collected before a write call; under load one write carries many lines. */
const BUFFER_BYTES = 4096;
/** A quiet server still writes its buffered lines at least this often. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * Creates the JSON logger of one instance. Without a destination, lines go to
 * stdout through a buffer that is written when it fills, every second, and
 * when the process exits. Tests pass a destination to read the lines.
 */
export function createLogger(level: Config['logging']['level'], destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'symgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination !== undefined) {
    return pino(options, destination);
  }
  const stdout = pino.destination({ dest: 1, sync: false, minLength: BUFFER_BYTES });
  setInterval(() => stdout.flush(), FLUSH_INTERVAL_MS).unref();
  return pino(options, stdout);
}
