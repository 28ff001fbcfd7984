import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { SymgateError } from '../errors.js';

/** s3rver accepts requests signed with this fixed key pair. */
const EMBEDDED_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface EmbeddedStore {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts the embedded S3-compatible store (s3rver) on loopback, creates every
 * configured bucket in it and uploads the seed files. Seed files are laid out
 * as `<seed_directory>/<bucket>/<key>`. A file whose content starts with the
 * gzip magic bytes and whose name does not end in `.gz` is stored with
 * `Content-Encoding: gzip`, as Mozilla stores `.sym` files.
 */
export async function startEmbeddedStore(config: Config, logger: Logger): Promise<EmbeddedStore> {
  const settings = config.embedded_store;
  if (settings === undefined) {
    throw new SymgateError('ERR_EMBEDDED_STORE', 'embedded_store is not configured');
  }
  const { default: S3rver } = await import('s3rver');
  mkdirSync(settings.directory, { recursive: true });

  const seeds = settings.seed_directory === undefined ? [] : listSeedFiles(settings.seed_directory);
  const bucketNames = new Set([...config.buckets.map((bucket) => bucket.name), ...seeds.map((seed) => seed.bucket)]);
  const server = new S3rver({
    address: settings.host,
    port: settings.port,
    directory: settings.directory,
    silent: true,
    configureBuckets: [...bucketNames].map((name) => ({ name })),
  });
  let address;
  try {
    await checkPortFree(settings.host, settings.port);
    address = await server.run();
  } catch (error) {
    throw new SymgateError(
      'ERR_EMBEDDED_STORE',
      `Cannot start the embedded store on ${settings.host}:${settings.port}: ${(error as Error).message}; ` +
        'free the port or set embedded_store.port',
      { cause: error },
    );
  }
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  const endpoint = `http://${host}:${address.port}`;

  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: EMBEDDED_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    for (const seed of seeds) {
      const body = readFileSync(seed.file);
      const gzipEncoded = body[0] === 0x1f && body[1] === 0x8b && !seed.key.endsWith('.gz');
      await client.send(
        new PutObjectCommand({
          Bucket: seed.bucket,
          Key: seed.key,
          Body: body,
          ContentType: seed.key.endsWith('.sym') ? 'text/plain' : 'application/octet-stream',
          ...(gzipEncoded ? { ContentEncoding: 'gzip' } : {}),
        }),
      );
    }
  } finally {
    client.destroy();
  }
  logger.info(
    { endpoint, directory: settings.directory, buckets: [...bucketNames], seeded_objects: seeds.length },
    'Embedded store started',
  );

  return {
    endpoint,
    async close() {
      await server.close();
      logger.info({ endpoint }, 'Embedded store stopped');
    },
  };
}

/**
 * Fails when host:port cannot be listened on. s3rver 3.7 does not reject
 * run() on a listen error. It raises an unhandled 'error' event that ends
 * the process instead, so the port is tried first.
 */
function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

interface SeedFile {
  bucket: string;
  key: string;
  file: string;
}

function listSeedFiles(seedDirectory: string): SeedFile[] {
  let buckets;
  try {
    buckets = readdirSync(seedDirectory, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  } catch (error) {
    throw new SymgateError(
      'ERR_EMBEDDED_STORE',
      `Cannot read embedded_store.seed_directory ${seedDirectory}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const seeds: SeedFile[] = [];
  for (const bucket of buckets) {
    const bucketDirectory = path.join(seedDirectory, bucket.name);
    for (const entry of readdirSync(bucketDirectory, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.startsWith('.')) {
        continue;
      }
      const file = path.join(entry.parentPath, entry.name);
      const key = path.relative(bucketDirectory, file).split(path.sep).join('/');
      seeds.push({ bucket: bucket.name, key, file });
    }
  }
  return seeds;
}
