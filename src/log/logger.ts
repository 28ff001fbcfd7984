import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';

/** Creates the JSON logger of one instance; tests pass a destination to read the lines. */
export function createLogger(level: Config['logging']['level'], destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'symgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // Asynchronous writes let lines written under load share one write call;
  // pino flushes what is left when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
