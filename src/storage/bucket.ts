import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { BucketConfig, Config } from '../config/index.js';
import { StorageError } from '../errors.js';
import type { Instrumentation } from '../instrumentation.js';
import { encodeKey, publicUrlBase } from './object-url.js';
import { translateS3Error } from './translate-error.js';

export type ExistsResult = 'found' | 'missing' | 'forbidden';

/** Sockets kept per bucket client; lookups of many distinct keys run this many HEADs at once. */
const MAX_SOCKETS = 256;

/** One configured S3 bucket: existence checks and object URLs. */
export class Bucket {
  readonly name: string;
  readonly config: BucketConfig;
  private readonly client: S3Client;
  private readonly instrumentation: Instrumentation;
  /** Start of every public object URL, computed once because redirects are the hot path. */
  private readonly urlBase: string | undefined;

  constructor(config: BucketConfig, storage: Config['storage'], instrumentation: Instrumentation) {
    this.name = config.name;
    this.config = config;
    this.instrumentation = instrumentation;
    this.client = new S3Client(clientConfig(config, storage));
    this.urlBase = config.access === 'public' ? publicUrlBase(config) : undefined;
  }

  /**
   * Checks whether `key` exists with one HeadObject or ListObjectsV2 request
   * (the SDK retries transient failures). Throws {@link StorageError} when
   * the storage request fails.
   */
  async exists(key: string): Promise<ExistsResult> {
    const started = performance.now();
    let result: ExistsResult;
    try {
      result = this.config.lookup === 'list' ? await this.existsByList(key) : await this.existsByHead(key);
    } catch (error) {
      const meaning = translateS3Error(error, this.name, key);
      const outcome = meaning instanceof StorageError ? 'error' : meaning;
      this.instrumentation.storageRequest(this.name, this.config.lookup, outcome, elapsedSeconds(started));
      if (meaning instanceof StorageError) {
        throw meaning;
      }
      return meaning;
    }
    this.instrumentation.storageRequest(this.name, this.config.lookup, result, elapsedSeconds(started));
    return result;
  }

  private async existsByHead(key: string): Promise<ExistsResult> {
    await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
    return 'found';
  }

  private async existsByList(key: string): Promise<ExistsResult> {
    // No MaxKeys: a listing cut short carries a continuation token, which some
    // S3-compatible stores (s3rver 3.7 on OpenSSL 3) fail to build. Few keys
    // start with a whole `debug_file/debug_id/symbol_file` key.
    const listing = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: key }));
    return listing.Contents?.some((object) => object.Key === key) === true ? 'found' : 'missing';
  }

  /**
   * Checks that the bucket exists and can be read, for `/__heartbeat__`.
   * GetObject of a key that is not there returns NoSuchKey, NoSuchBucket or
   * AccessDenied in its body, where HeadObject would return a bare 404 for
   * both a missing key and a missing bucket.
   */
  async probe(key: string): Promise<'ok' | 'forbidden'> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key, Range: 'bytes=0-0' }));
      (response.Body as Readable | undefined)?.destroy();
      return 'ok';
    } catch (error) {
      const meaning = translateS3Error(error, this.name, key);
      if (meaning instanceof StorageError) {
        throw meaning;
      }
      return meaning === 'forbidden' ? 'forbidden' : 'ok';
    }
  }

  /** Returns the plain URL of an object in a public bucket; undefined for a private bucket. */
  publicUrl(key: string): string | undefined {
    return this.urlBase === undefined ? undefined : `${this.urlBase}/${encodeKey(key)}`;
  }

  /**
   * Returns the URL a client is redirected to: plain for public buckets,
   * presigned for private ones. Throws {@link StorageError} when no
   * credentials can be found to sign with.
   */
  async objectUrl(key: string): Promise<string> {
    const plain = this.publicUrl(key);
    if (plain !== undefined) {
      return plain;
    }
    try {
      return await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.name, Key: key }), {
        expiresIn: this.config.presign_expires_seconds,
      });
    } catch (error) {
      const name = (error as Error).name ?? 'Error';
      throw new StorageError('ERR_STORAGE_UNAVAILABLE', `Cannot presign a URL for bucket ${this.name}: ${name}`, {
        bucket: this.name,
        key,
        cause: error,
      });
    }
  }

  close(): void {
    this.client.destroy();
  }
}

function clientConfig(config: BucketConfig, storage: Config['storage']): S3ClientConfig {
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  const settings: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.force_path_style,
    maxAttempts: storage.max_attempts,
    retryMode: 'standard',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: storage.connect_timeout_seconds * 1000,
      requestTimeout: storage.request_timeout_seconds * 1000,
      // Without this, @smithy/node-http-handler 4.x only logs a warning when requestTimeout
      // passes, so a request that gets no response waits until the connection closes.
      throwOnRequestTimeout: true,
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
    }),
  };
  if (config.endpoint !== undefined) {
    settings.endpoint = config.endpoint;
  }
  if (config.credentials !== undefined) {
    settings.credentials = {
      accessKeyId: config.credentials.access_key_id,
      secretAccessKey: config.credentials.secret_access_key,
      ...(config.credentials.session_token === undefined ? {} : { sessionToken: config.credentials.session_token }),
    };
  } else if (config.access === 'public') {
    // Public buckets are read anonymously, as any client of a public bucket
    // would: requests go out unsigned and no credential chain is consulted.
    settings.credentials = { accessKeyId: '', secretAccessKey: '' };
    settings.signer = { sign: async (request) => request };
  }
  return settings;
}

function elapsedSeconds(started: number): number {
  return (performance.now() - started) / 1000;
}
