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
    timestamp: createIsoTimestamp(),
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination !== undefined) {
    return pino(options, destination);
  }
  const stdout = pino.destination({ dest: 1, sync: false, minLength: BUFFER_BYTES });
  setInterval(() => stdout.flush(), FLUSH_INTERVAL_MS).unref();
  return pino(options, stdout);
}

/**
 * Returns a pino timestamp function that writes ISO 8601 times. Formatting a
 * Date costs more than the rest of a log line, so the text is reused for
 * every line written within the same millisecond.
 */
function createIsoTimestamp(): () => string {
  let lastMs = -1;
  let lastText = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastText = `,"time":"${new Date(now).toISOString()}"`;
    }
    return lastText;
  };
}
