import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
// s3rver 3.7 ships no type declarations, so src/types/s3rver.d.ts declares the members used here.
import S3rver from 's3rver';

/** The access key and secret that s3rver accepts for signed requests. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3PutOptions {
  contentEncoding?: string;
  contentType?: string;
}

/** A running s3rver instance on 127.0.0.1 with a signed client for it. */
export interface S3Fixture {
  /** Base URL, for example 'http://127.0.0.1:PORT'. */
  endpoint: string;
  port: number;
  /** Temporary folder that s3rver stores objects in, removed by close(). */
  directory: string;
  /** Client signed with S3RVER/S3RVER, path-style addressing, region us-east-1. */
  client: S3Client;
  put(bucket: string, key: string, body: string | Buffer, options?: S3PutOptions): Promise<void>;
  /** Stops s3rver, destroys the client and removes the folder. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Creates an S3 client for a test endpoint with the settings s3rver needs.
 * Fields in `overrides` replace the defaults.
 */
export function createS3Client(endpoint: string, overrides: S3ClientConfig = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    // s3rver stores streamed uploads with checksum trailers corrupted, so checksums
    // are only sent where an operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  });
}

/** Starts s3rver on a free loopback port with the given buckets created empty. */
export async function startS3(options: { buckets: string[] }): Promise<S3Fixture> {
  const directory = await mkdtemp(join(tmpdir(), 'symgate-s3-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });

  let port: number;
  try {
    ({ port } = await server.run());
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  const client = createS3Client(endpoint);

  async function put(
    bucket: string,
    key: string,
    body: string | Buffer,
    putOptions: S3PutOptions = {},
  ): Promise<void> {
    // A Buffer has a known length, so the SDK sends a plain body with Content-Length.
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: bytes,
        ContentEncoding: putOptions.contentEncoding,
        ContentType: putOptions.contentType,
      }),
    );
  }

  let closing: Promise<void> | undefined;
  async function stop(): Promise<void> {
    client.destroy();
    try {
      await server.close();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  }
  // Later calls return the first call's promise, so a test may close early and again in teardown.
  function close(): Promise<void> {
    closing ??= stop();
    return closing;
  }

  return { endpoint, port, directory, client, put, close };
}
