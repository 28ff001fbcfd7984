import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';

const SERVICE = 'symgate';

/**
 * Creates the JSON logger of one instance. Without a destination, lines go to
 * stdout in one write per turn of the event loop (see {@link TurnBatchedStdout}).
 * Tests pass a destination to read the lines.
 */
export function createLogger(level: Config['logging']['level'], destination?: DestinationStream): Logger {
  const timestamp = createIsoTimestamp();
  const options = {
    level,
    base: { service: SERVICE },
    timestamp,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const stream = destination ?? sharedStdout();
  const logger = pino(options, stream);
  lineWriters.set(logger, (levelLabel, members, message) => {
    stream.write(`{"level":"${levelLabel}"${timestamp()},"service":"${SERVICE}"${members},"msg":${message}}\n`);
  });
  return logger;
}

/**
 * A function that writes one line in the format of {@link createLogger} without pino's serializer.
 * The caller checks the level first and passes JSON text: `members` as `,"key":value` pairs, `message` quoted.
 */
export type LineWriter = (level: 'debug' | 'info' | 'warn' | 'error', members: string, message: string) => void;

const lineWriters = new WeakMap<Logger, LineWriter>();

/**
 * Returns the line writer of a logger made by {@link createLogger}, or
 * undefined for any other logger, whose format symgate does not know.
 */
export function lineWriterFor(logger: Logger): LineWriter | undefined {
  return lineWriters.get(logger);
}

let stdoutBatcher: TurnBatchedStdout | undefined;

/**
 * Returns the one stdout destination of the process, so that loggers share its
 * batch, its order of lines and its exit handler.
 */
function sharedStdout(): TurnBatchedStdout {
  stdoutBatcher ??= new TurnBatchedStdout();
  return stdoutBatcher;
}

// Under load one turn serves many requests, so one system call carries all
// their access-log lines. sonic-boom's own `minLength` buffering is not used
// because it measures the whole pending buffer on every write.
/**
 * A pino destination that collects the lines of one event-loop turn and writes
 * them to stdout in one synchronous write when the turn ends, or at exit.
 */
class TurnBatchedStdout implements DestinationStream {
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
