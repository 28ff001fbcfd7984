import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';

/**
 * Creates the JSON logger of one instance. Without a destination, lines go to
 * stdout in one write per turn of the event loop (see {@link TurnBatchedStdout}).
 * Tests pass a destination to read the lines.
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
  return pino(options, new TurnBatchedStdout());
}

// Under load one turn serves many requests, so one system call carries all
// their access-log lines. sonic-boom's own `minLength` buffering is not used
// because it measures the whole pending buffer on every write.
/**
 * A pino destination that collects the lines of one event-loop turn and writes
 * them to stdout in one synchronous write when the turn ends, or at exit.
 */
export class TurnBatchedStdout implements DestinationStream {
  private readonly stdout = pino.destination({ dest: 1, sync: true });
  private lines: string[] = [];
  private scheduled = false;
  private readonly flushTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor() {
    process.once('exit', () => this.flush());
  }

  write(line: string): void {
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushTurn);
    }
  }

  /** Writes the collected lines now. */
  flush(): void {
    if (this.lines.length === 0) {
      return;
    }
    const text = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.stdout.write(text);
  }
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
