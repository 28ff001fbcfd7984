import { access } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import test, { type ExecutionContext } from 'ava';

import { type FaultProxy, startFaultProxy } from './helpers/fault-proxy.js';
import { createS3Client, type S3Fixture, startS3 } from './helpers/s3.js';

const BUCKET = 'symbols-public';
const SYMBOL_KEY = 'v1/libc++abi.dylib/ABC/libc++abi.dylib.sym';
const SYMBOL_TEXT = 'MODULE mac x86_64 ABC libc++abi.dylib\nPUBLIC 1000 0 __cxa_throw\n';

interface Servers {
  s3: S3Fixture;
  proxy: FaultProxy;
}

// Starts s3rver and a proxy in front of it, both closed when the test ends.
async function startServers(t: ExecutionContext): Promise<Servers> {
  const s3 = await startS3({ buckets: [BUCKET] });
  t.teardown(() => s3.close());
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  t.teardown(() => proxy.close());
  return { s3, proxy };
}

// One attempt per request, so every injected fault reaches the test unretried.
function createProxyClient(
  t: ExecutionContext,
  proxy: FaultProxy,
  options: { anonymous?: boolean } = {},
): S3Client {
  const anonymous = options.anonymous === true
    ? {
        credentials: { accessKeyId: '', secretAccessKey: '' },
        signer: { sign: async <Request>(request: Request) => request },
      }
    : {};
  const client = createS3Client(proxy.endpoint, { maxAttempts: 1, ...anonymous });
  t.teardown(() => client.destroy());
  return client;
}

// Polls instead of sleeping, so the test waits only as long as the proxy needs.
async function waitUntil(condition: () => boolean, description: string): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if (condition()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out after 5 s waiting until ${description}`);
}

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('Expected the request to fail, but it succeeded');
}

test('HEAD passes through with decoded key', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  const cases = [
    { key: SYMBOL_KEY, path: '/symbols-public/v1/libc%2B%2Babi.dylib/ABC/libc%2B%2Babi.dylib.sym' },
    { key: 'v1/My App.pdb/0A1B/My App.sym', path: '/symbols-public/v1/My%20App.pdb/0A1B/My%20App.sym' },
  ];

  for (const { key, path } of cases) {
    await s3.put(BUCKET, key, SYMBOL_TEXT);
    proxy.clearRequests();

    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));

    t.is(head.ContentLength, Buffer.byteLength(SYMBOL_TEXT), key);
    t.is(proxy.requests.length, 1, key);
    t.deepEqual(proxy.requests[0], { method: 'HEAD', path, bucket: BUCKET, key, query: '' });
  }
});

test('anonymous GET passes through', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy, { anonymous: true });
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);

  const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY }));

  t.is(await response.Body?.transformToString(), SYMBOL_TEXT);
  t.is(proxy.count((request) => request.method === 'GET' && request.key === SYMBOL_KEY), 1);
});

test('GET keeps gzip body and encoding', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  const compressed = gzipSync(SYMBOL_TEXT);
  await s3.put(BUCKET, SYMBOL_KEY, compressed, { contentEncoding: 'gzip', contentType: 'text/plain' });

  const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY }));
  const body = Buffer.from((await response.Body?.transformToByteArray()) ?? []);

  t.is(response.ContentEncoding, 'gzip');
  t.is(response.ContentType, 'text/plain');
  t.true(body.equals(compressed));
});

test('PUT body reaches the target', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  const payload = Buffer.alloc(256 * 1024, 'symbol data ');

  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY, Body: payload }));
  const stored = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY }));
  const body = Buffer.from((await stored.Body?.transformToByteArray()) ?? []);

  t.true(body.equals(payload));
  t.is(proxy.count((request) => request.method === 'PUT'), 1);
});

test('records raw query string', async (t) => {
  const { proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);

  await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'v1/libc++' }));

  const [request] = proxy.requests;
  t.is(request?.bucket, BUCKET);
  t.is(request?.key, '');
  t.false(request?.query.startsWith('?'));
  t.true(request?.query.split('&').includes('list-type=2'));
  t.true(request?.query.split('&').includes('prefix=v1%2Flibc%2B%2B'));
});

test('403 rule gives AccessDenied', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  proxy.setRules([{ status: 403 }]);

  const getError = await catchError(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));
  // s3rver returns 404 for this missing key, so a 403 shows that the proxy sent the response itself.
  const headError = await catchError(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'v1/missing.sym' })));

  t.true(getError instanceof S3ServiceException);
  t.is((getError as S3ServiceException).name, 'AccessDenied');
  t.is((getError as S3ServiceException).$metadata.httpStatusCode, 403);
  t.true(headError instanceof S3ServiceException);
  t.is((headError as S3ServiceException).$metadata.httpStatusCode, 403);
});

test('503 rule gives SlowDown', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  proxy.setRules([{ status: 503 }]);

  const error = await catchError(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));

  t.true(error instanceof S3ServiceException);
  t.is((error as S3ServiceException).name, 'SlowDown');
  t.is((error as S3ServiceException).$metadata.httpStatusCode, 503);
});

test('500 rule gives InternalError', async (t) => {
  const { proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  proxy.setRules([{ status: 500 }]);

  const error = await catchError(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));

  t.true(error instanceof S3ServiceException);
  t.is((error as S3ServiceException).name, 'InternalError');
  t.is((error as S3ServiceException).$metadata.httpStatusCode, 500);
});

test('times lets later requests through', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  proxy.setRules([{ status: 503, times: 2 }]);
  const head = () => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY }));

  const first = await catchError(head());
  const second = await catchError(head());
  const third = await head();

  t.is((first as S3ServiceException).$metadata.httpStatusCode, 503);
  t.is((second as S3ServiceException).$metadata.httpStatusCode, 503);
  t.is(third.ContentLength, Buffer.byteLength(SYMBOL_TEXT));
  t.is(proxy.count(), 3);
});

test('exhausted rule falls through', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  proxy.setRules([{ status: 503, times: 1 }, { status: 403 }]);
  const head = () => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY }));

  const first = await catchError(head());
  const second = await catchError(head());

  t.is((first as S3ServiceException).$metadata.httpStatusCode, 503);
  t.is((second as S3ServiceException).$metadata.httpStatusCode, 403);
});

test('match limits rule to selected keys', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  const otherKey = 'v1/xul.pdb/ABC/xul.sym';
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  await s3.put(BUCKET, otherKey, SYMBOL_TEXT);
  proxy.setRules([{ match: (request) => request.key === SYMBOL_KEY, status: 403 }]);

  const blocked = await catchError(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));
  const allowed = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: otherKey }));

  t.is((blocked as S3ServiceException).$metadata.httpStatusCode, 403);
  t.is(allowed.ContentLength, Buffer.byteLength(SYMBOL_TEXT));
});

test('throwing match gives 502', async (t) => {
  const { proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  proxy.setRules([
    {
      match: () => {
        throw new Error('match failed on purpose');
      },
      status: 403,
    },
  ]);

  const error = await catchError(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));

  t.true(error instanceof S3ServiceException);
  t.is((error as S3ServiceException).$metadata.httpStatusCode, 502);
  t.regex((error as S3ServiceException).message, /match failed on purpose/);
});

test('reset causes network error', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  proxy.setRules([{ reset: true }]);

  const error = await catchError(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));

  t.false(error instanceof S3ServiceException);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
  t.is(proxy.count(), 1);
});

test('latency overlaps parallel requests', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  // The delay only has to outlast the time the client needs to send all three requests.
  proxy.setRules([{ latencyMs: 500 }]);

  const heads = await Promise.all(
    [1, 2, 3].map(() => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY }))),
  );

  for (const head of heads) {
    t.is(head.ContentLength, Buffer.byteLength(SYMBOL_TEXT));
  }
  t.is(proxy.maxConcurrent, 3);

  proxy.clearRequests();
  t.deepEqual(proxy.requests, []);
  t.is(proxy.maxConcurrent, 0);
});

test('close ends hung request', async (t) => {
  const { s3, proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  proxy.setRules([{ hang: true }]);

  const pending = catchError(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));
  await waitUntil(() => proxy.count() === 1, 'the proxy records the request');
  await proxy.close();
  const error = await pending;

  t.false(error instanceof S3ServiceException);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
});

test('close cancels pending latency', async (t) => {
  const { proxy } = await startServers(t);
  const client = createProxyClient(t, proxy);
  proxy.setRules([{ latencyMs: 600_000 }]);

  const pending = catchError(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));
  await waitUntil(() => proxy.count() === 1, 'the proxy records the request');
  await proxy.close();
  const error = await pending;

  t.false(error instanceof S3ServiceException);
  t.is((error as NodeJS.ErrnoException).code, 'ECONNRESET');
});

test('unreachable target gives 502', async (t) => {
  // A port that was just free and is now closed, so connections to it are refused.
  const placeholder = http.createServer();
  await new Promise<void>((resolve) => placeholder.listen(0, '127.0.0.1', resolve));
  const { port } = placeholder.address() as AddressInfo;
  await new Promise((resolve) => placeholder.close(resolve));

  const proxy = await startFaultProxy({ host: '127.0.0.1', port });
  t.teardown(() => proxy.close());
  const client = createProxyClient(t, proxy);

  const error = await catchError(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: SYMBOL_KEY })));

  t.true(error instanceof S3ServiceException);
  t.is((error as S3ServiceException).$metadata.httpStatusCode, 502);
  t.regex((error as S3ServiceException).message, /ECONNREFUSED/);
});

test('put to missing bucket rejects', async (t) => {
  const s3 = await startS3({ buckets: [BUCKET] });
  t.teardown(() => s3.close());

  const error = await catchError(s3.put('no-such-bucket', SYMBOL_KEY, SYMBOL_TEXT));

  t.true(error instanceof S3ServiceException);
  t.is((error as S3ServiceException).name, 'NoSuchBucket');
});

test('S3 close removes storage folder', async (t) => {
  const s3 = await startS3({ buckets: [BUCKET] });
  t.teardown(() => s3.close());
  await s3.put(BUCKET, SYMBOL_KEY, SYMBOL_TEXT);
  await access(s3.directory);

  await s3.close();

  await t.throwsAsync(access(s3.directory), { code: 'ENOENT' });
});
