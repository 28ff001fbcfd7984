import test, { type ExecutionContext } from 'ava';

import type { FaultRule } from './helpers/fault-proxy.js';
import { DEBUG_ID, startStack, type Stack } from './helpers/lookup-stack.js';
import { startS3 } from './helpers/s3.js';
import { bucketConfig, request, startSymgate } from './helpers/symgate.js';

const ID = DEBUG_ID.toUpperCase();
const SYMBOL_PATH = `/xul.pdb/${DEBUG_ID}/xul.sym`;
const SYMBOL_KEY = `v1/xul.pdb/${ID}/xul.sym`;
const SYMBOL_TEXT = 'MODULE windows x86_64 44E4EC8C2F41492B9369D6B9A059577C2 xul.pdb\n';
const RETRY_AFTER_SECONDS = 7;

const STORAGE_FAILED = 'Storage request failed';
const STORAGE_FORBIDDEN =
  'Storage denied access; the location is skipped and counts as not found. Check the bucket policy and credentials';

// One public bucket with the symbol stored, so a request succeeds once the fault is gone.
async function startWithSymbol(t: ExecutionContext, config: Record<string, unknown> = {}): Promise<Stack> {
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { download: { retry_after_seconds: RETRY_AFTER_SECONDS }, ...config },
  });
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);
  return stack;
}

// Checks the 503 response, its warning line and that the failure was not cached.
async function checkFailureIsNotCached(
  t: ExecutionContext,
  fault: FaultRule,
  expected: { status?: number; reason: RegExp },
  config: Record<string, unknown> = {},
): Promise<void> {
  const stack = await startWithSymbol(t, config);
  stack.proxy.setRules([fault]);

  const failed = await request(stack.url(SYMBOL_PATH));

  t.is(failed.status, 503);
  t.is(failed.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
  t.is(failed.headers.get('cache-control'), 'no-store');
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 1);
  const [warning, ...more] = stack.gate.logs.withMessage(STORAGE_FAILED);
  t.is(more.length, 0);
  t.is(warning?.level, 'warn');
  t.is(warning?.bucket, 'symbols');
  t.is(warning?.key, SYMBOL_KEY);
  t.is(warning?.status, expected.status);
  t.regex(String(warning?.error), /^Storage request to bucket symbols failed: /);
  t.regex(String(warning?.error), expected.reason);

  stack.proxy.setRules([]);
  const recovered = await request(stack.url(SYMBOL_PATH));

  t.is(recovered.status, 302);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
}

test('timeout returns uncached 503', async (t) => {
  const storage = { max_attempts: 1, request_timeout_seconds: 1, connect_timeout_seconds: 1 };
  await checkFailureIsNotCached(t, { hang: true }, { reason: /ETIMEDOUT/ }, { storage });
});

test('connection reset returns uncached 503', async (t) => {
  await checkFailureIsNotCached(t, { reset: true }, { reason: /ECONNRESET/ });
});

test('500 returns uncached 503', async (t) => {
  await checkFailureIsNotCached(t, { status: 500 }, { status: 500, reason: /HTTP 500/ });
});

test('SlowDown returns uncached 503', async (t) => {
  await checkFailureIsNotCached(t, { status: 503 }, { status: 503, reason: /HTTP 503/ });
});

test('failed request is logged as error', async (t) => {
  const stack = await startWithSymbol(t);
  stack.proxy.setRules([{ status: 500 }]);

  await request(stack.url(SYMBOL_PATH));

  const [line] = stack.gate.logs.withMessage('Request finished');
  t.is(line?.level, 'error');
  t.is(line?.status, 503);
  t.is(line?.path, SYMBOL_PATH);
});

test('HEAD during outage returns 503', async (t) => {
  const stack = await startWithSymbol(t);
  stack.proxy.setRules([{ status: 503 }]);

  const response = await request(stack.url(SYMBOL_PATH), { method: 'HEAD' });

  t.is(response.status, 503);
  t.is(response.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
});

test('retry recovers from one SlowDown', async (t) => {
  const stack = await startWithSymbol(t, {
    storage: { max_attempts: 2, request_timeout_seconds: 10, connect_timeout_seconds: 10 },
  });
  stack.proxy.setRules([{ status: 503, times: 1 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 302);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
  t.is(stack.gate.logs.withMessage(STORAGE_FAILED).length, 0);
});

test('single attempt does not retry', async (t) => {
  const stack = await startWithSymbol(t);
  stack.proxy.setRules([{ status: 503, times: 1 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 503);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 1);
});

test('coalesced requests share one failure', async (t) => {
  const stack = await startWithSymbol(t);
  stack.proxy.setRules([{ status: 500, latencyMs: 300 }]);

  const responses = await Promise.all(Array.from({ length: 10 }, () => request(stack.url(SYMBOL_PATH))));

  t.deepEqual(
    responses.map((response) => response.status),
    Array.from({ length: 10 }, () => 503),
  );
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 1);
});

test('failing bucket stops a later miss', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'broken', prefix: 'v1' },
      { name: 'healthy', prefix: 'v1' },
    ],
  });
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'broken', status: 500 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  // The file may be in the bucket that failed, so "not found" would be a guess.
  t.is(response.status, 503);
  t.is(stack.storageLookups('broken', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('healthy', SYMBOL_KEY), 1);
});

test('found behind failure is not cached', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'broken', prefix: 'v1' },
      { name: 'healthy', prefix: 'v1' },
    ],
  });
  await stack.s3.put('healthy', SYMBOL_KEY, SYMBOL_TEXT);
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'broken', status: 500 }]);

  const first = await request(stack.url(SYMBOL_PATH));
  const second = await request(stack.url(SYMBOL_PATH));

  t.is(first.status, 302);
  t.is(first.headers.get('location'), `${stack.proxy.endpoint}/healthy/${SYMBOL_KEY}`);
  t.is(second.status, 302);
  t.is(stack.storageLookups('broken', SYMBOL_KEY), 2);
  t.is(stack.storageLookups('healthy', SYMBOL_KEY), 2);
});

test('found before failure is cached', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'healthy', prefix: 'v1' },
      { name: 'broken', prefix: 'v1' },
    ],
  });
  await stack.s3.put('healthy', SYMBOL_KEY, SYMBOL_TEXT);
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'broken', status: 500 }]);

  const first = await request(stack.url(SYMBOL_PATH));
  const second = await request(stack.url(SYMBOL_PATH));

  t.is(first.status, 302);
  t.is(second.status, 302);
  t.is(second.headers.get('location'), `${stack.proxy.endpoint}/healthy/${SYMBOL_KEY}`);
  t.is(stack.storageLookups('healthy', SYMBOL_KEY), 1);
});

test('403 bucket does not stop search', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'denied', prefix: 'v1' },
      { name: 'allowed', prefix: 'v1' },
    ],
  });
  await stack.s3.put('denied', SYMBOL_KEY, SYMBOL_TEXT);
  await stack.s3.put('allowed', SYMBOL_KEY, SYMBOL_TEXT);
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'denied', status: 403 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${stack.proxy.endpoint}/allowed/${SYMBOL_KEY}`);
  t.is(stack.storageLookups('denied', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('allowed', SYMBOL_KEY), 1);
});

test('403 is logged with bucket', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'denied', prefix: 'v1' },
      { name: 'allowed', prefix: 'v1' },
    ],
  });
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'denied', status: 403 }]);

  await request(stack.url(SYMBOL_PATH));

  const [warning, ...more] = stack.gate.logs.withMessage(STORAGE_FORBIDDEN);
  t.is(more.length, 0);
  t.is(warning?.level, 'warn');
  t.is(warning?.bucket, 'denied');
  t.is(warning?.key, SYMBOL_KEY);
});

test('403 warning is rate limited', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'denied', prefix: 'v1' }] });
  stack.proxy.setRules([{ status: 403 }]);

  for (const name of ['a', 'b', 'c']) {
    await request(stack.url(`/${name}.pdb/${DEBUG_ID}/${name}.sym`));
  }

  t.is(stack.storageLookups('denied'), 3);
  t.is(stack.gate.logs.withMessage(STORAGE_FORBIDDEN).length, 1);
});

test('heartbeat fails for a missing bucket', async (t) => {
  const s3 = await startS3({ buckets: ['present'] });
  t.teardown(() => s3.close());
  const gate = await startSymgate({
    buckets: [bucketConfig('present', s3.endpoint), bucketConfig('absent-bucket', s3.endpoint)],
  });
  t.teardown(() => gate.close());

  const response = await request(`${gate.url}/__heartbeat__`);
  const body = JSON.parse(response.body) as { buckets: { name: string; status: string; message?: string }[] };

  t.is(response.status, 500);
  t.deepEqual(
    body.buckets.map((bucket) => [bucket.name, bucket.status]),
    [
      ['present', 'ok'],
      ['absent-bucket', 'error'],
    ],
  );
  t.regex(body.buckets[1]?.message ?? '', /does not exist/);
});

test('heartbeat names the 403 bucket', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'denied', prefix: 'v1' },
      { name: 'allowed', prefix: 'v1' },
    ],
  });
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'denied', status: 403 }]);

  const response = await request(stack.url('/__heartbeat__'));
  const body = JSON.parse(response.body) as { status: string; buckets: { name: string; status: string }[] };

  t.is(response.status, 500);
  t.is(body.status, 'error');
  t.deepEqual(
    body.buckets.map((bucket) => [bucket.name, bucket.status]),
    [
      ['denied', 'error'],
      ['allowed', 'ok'],
    ],
  );
});

test('all forbidden or missing is 404', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'denied', prefix: 'v1' },
      { name: 'empty', prefix: 'v1' },
      { name: 'denied-too', prefix: 'v1' },
    ],
  });
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket.startsWith('denied'), status: 403 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 404);
  t.is(response.body, 'Symbol Not Found');
  t.is(stack.storageLookups('denied', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('empty', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('denied-too', SYMBOL_KEY), 1);
});
