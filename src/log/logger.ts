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
  return destination === undefined ? pino(options) : pino(options, destination);
}
