import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import net from 'node:net';
import { promisify } from 'node:util';
import { startS3, type S3Fixture } from '../test/helpers/s3.js';

const execFileAsync = promisify(execFile);

// The AWS SDK warns on every run under Node.js 20 that later releases need
// Node.js 22; the benchmarks' own output is clearer without it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface LoadResult {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Responses with a status of 400 or more. */
  errorResponses: number;
  /** Connect, read, write and timeout errors. */
  socketErrors: number;
}

/**
 * Runs wrk (Debian package `wrk`) with one thread against one URL and keeps
 * the figures the reports use. On the benchmark machine, wrk drove the bare
 * server to a higher rate than autocannon did.
 */
export async function runLoad(url: string, seconds: number, connections: number): Promise<LoadResult> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url]));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('wrk not found: install it with "apt-get install wrk"');
    }
    throw error;
  }
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(stdout);
    if (match === null) {
      throw new Error(`unexpected wrk output, no match for ${pattern}:\n${stdout}`);
    }
    return Number(match[1]);
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    latencyP50Ms: latencyMs(stdout, '50%'),
    latencyP99Ms: latencyMs(stdout, '99%'),
    errorResponses: /Non-2xx or 3xx responses: (\d+)/.test(stdout) ? number(/Non-2xx or 3xx responses: (\d+)/) : 0,
    socketErrors: socketErrors === null ? 0 : socketErrors.slice(1).reduce((total, count) => total + Number(count), 0),
  };
}

/** Reads one percentile of wrk's latency distribution, in milliseconds. */
function latencyMs(output: string, percentile: string): number {
  const match = new RegExp(`^\\s+${percentile}\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(output);
  if (match === null) {
    throw new Error(`unexpected wrk output, no ${percentile} latency:\n${output}`);
  }
  const scale = { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  return Number(match[1]) * scale;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until the server responds, for a server started in a child process. */
export async function waitUntilServing(url: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (child.exitCode !== null) {
      throw new Error(`server exited with ${child.exitCode} before serving ${url}`);
    }
    try {
      await fetch(url, { redirect: 'manual' });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`server did not respond to ${url} within 10 s`);
}

/**
 * Starts a Node.js child process with its output discarded, so logging costs
 * only the server. With `cpu`, taskset pins the child to that CPU, so that the
 * server and the load generator do not take turns on one core.
 */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}, cpu?: number): ChildProcess {
  const command = cpu === undefined ? [process.execPath, ...args] : ['taskset', '-c', String(cpu), process.execPath, ...args];
  return spawn(command[0]!, command.slice(1), {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export function describeMachine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, Node.js ${process.version}, ${process.platform} ${process.arch}`;
}

/** Key of the one symbol file in the store of {@link startBenchStore}, below the prefix `v1`. */
export const BENCH_KEY = 'v1/xul.pdb/44E4EC8C2F41492B9369D6B9A059577C2/xul.sym';
export const BENCH_SYMBOL_PATH = '/xul.pdb/44E4EC8C2F41492B9369D6B9A059577C2/xul.sym';

/** Starts s3rver on a loopback port with a bucket `bench` that contains one symbol file at {@link BENCH_KEY}. */
export async function startBenchStore(): Promise<S3Fixture> {
  const store = await startS3({ buckets: ['bench'] });
  await store.put('bench', BENCH_KEY, 'MODULE windows x86_64 bench');
  return store;
}
