#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH, formatEffectiveConfig, loadConfigFile, type Config } from './config/index.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log/logger.js';
import { runMissingSymbolsCommand } from './missing/command.js';
import { startServer } from './server.js';
import { readVersionInfo } from './version.js';

const USAGE = `Usage: symgate [--config FILE] [--port N] [--check]
       symgate missing-symbols export|prune [OPTIONS]

Serves debug symbol files from S3 buckets. \`symgate missing-symbols --help\`
describes the commands that export and prune the missing-symbol records.

Options:
  -c, --config FILE   config file to read (default: ${DEFAULT_CONFIG_PATH})
  -p, --port N        port to listen on, overriding server.port
      --check         validate the config, print it with secrets masked, and exit
  -v, --version       print the version and exit
  -h, --help          print this help and exit

Exit status: 0 on success and after a clean shutdown, 1 when the server fails,
2 for an invalid command line or config file.`;

/** Exit status for an invalid command line or config. */
const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'missing-symbols') {
    return runMissingSymbolsCommand(argv.slice(1));
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
        port: { type: 'string', short: 'p' },
        check: { type: 'boolean', default: false },
        version: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
  } catch (error) {
    process.stderr.write(`symgate: ${(error as Error).message}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${readVersionInfo().version}\n`);
    return 0;
  }

  const port = values.port === undefined ? undefined : parsePort(values.port);
  if (port === null) {
    process.stderr.write(`symgate: --port: expected a whole number from 0 to 65535, got ${JSON.stringify(values.port)}\n`);
    return EXIT_USAGE;
  }

  let config: Config;
  let configPath: string;
  try {
    ({ config, path: configPath } = loadConfigFile(values.config));
    if (port !== undefined) {
      config = { ...config, server: { ...config.server, port } };
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`symgate: invalid configuration in ${values.config}:\n`);
      for (const problem of error.problems) {
        process.stderr.write(`  ${problem}\n`);
      }
      return EXIT_USAGE;
    }
    throw error;
  }

  if (values.check) {
    process.stdout.write(`# ${configPath}: valid\n${formatEffectiveConfig(config)}`);
    return 0;
  }

  const logger = createLogger(config.logging.level);
  let running;
  try {
    running = await startServer(config, { logger, configPath });
  } catch (error) {
    logger.fatal({ err: error }, 'symgate failed to start');
    return 1;
  }

  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.once(signal, () => {
        logger.warn({ signal }, 'Second signal received; exiting without waiting for requests');
        process.exit(1);
      });
      running.stop(signal).then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'Shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

/** Returns the port given with --port, or null when it is not a valid port number. */
function parsePort(text: string): number | null {
  const port = Number(text);
  return /^\d+$/.test(text) && port <= 65_535 ? port : null;
}

// Exits explicitly: after a shutdown everything that must outlive it has
// been flushed, and idle keep-alive sockets must not hold the process open.
main(process.argv.slice(2)).then(
  (code) => {
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`symgate: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
