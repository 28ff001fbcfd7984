import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';

import { DEBUG_ID, ManualClock, type Stack, startStack } from './helpers/lookup-stack.js';
import { request } from './helpers/symgate.js';

const ID = DEBUG_ID.toUpperCase();
const SYMBOL_PATH = `/xul.pdb/${DEBUG_ID}/xul.sym`;
const SYMBOL_KEY = `v1/xul.pdb/${ID}/xul.sym`;
const TRY_KEY = `try/v1/xul.pdb/${ID}/xul.sym`;
const SYMBOL_TEXT = 'MODULE windows x86_64 44E4EC8C2F41492B9369D6B9A059577C2 xul.pdb\n';

const THREE_BUCKETS = [
  { name: 'first', prefix: 'v1' },
  { name: 'second', prefix: 'v1' },
  { name: 'third', prefix: 'v1' },
];

function missingPath(index: number): string {
  return `/missing${index}.pdb/${DEBUG_ID}/missing${index}.sym`;
}

function missingKey(index: number): string {
  return `v1/missing${index}.pdb/${ID}/missing${index}.sym`;
}

// Counts the `cache` field of the access log lines: hit, miss, coalesced or refresh.
function cacheResults(stack: Stack): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of stack.gate.logs.withMessage('Request finished')) {
    const cache = String(line.cache);
    counts[cache] = (counts[cache] ?? 0) + 1;
  }
  return counts;
}

test('miss asks all buckets at once', async (t) => {
  const stack = await startStack(t, { buckets: THREE_BUCKETS });
  // The delay only has to outlast the time symgate needs to send all three requests.
  stack.proxy.setRules([{ latencyMs: 200 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 404);
  t.is(stack.proxy.maxConcurrent, 3);
  t.is(stack.storageLookups('first', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('second', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('third', SYMBOL_KEY), 1);
  t.is(stack.proxy.count(), 3);
});

test('first bucket wins when slower', async (t) => {
  const stack = await startStack(t, { buckets: THREE_BUCKETS });
  for (const bucket of THREE_BUCKETS) {
    await stack.s3.put(bucket.name, SYMBOL_KEY, SYMBOL_TEXT);
  }
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'first', latencyMs: 200 }]);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${stack.proxy.endpoint}/first/${SYMBOL_KEY}`);
  t.is(stack.proxy.count(), 3);
});

test('earlier bucket wins over later', async (t) => {
  const stack = await startStack(t, { buckets: THREE_BUCKETS });
  await stack.s3.put('second', SYMBOL_KEY, SYMBOL_TEXT);
  await stack.s3.put('third', SYMBOL_KEY, SYMBOL_TEXT);
  stack.proxy.setRules([{ match: (proxied) => proxied.bucket === 'second', latencyMs: 200 }]);

  const first = await request(stack.url(SYMBOL_PATH));
  const cached = await request(stack.url(SYMBOL_PATH));

  t.is(first.headers.get('location'), `${stack.proxy.endpoint}/second/${SYMBOL_KEY}`);
  t.is(cached.headers.get('location'), `${stack.proxy.endpoint}/second/${SYMBOL_KEY}`);
  t.is(stack.proxy.count(), 3);
});

test('concurrent requests share one lookup', async (t) => {
  const stack = await startStack(t, { buckets: THREE_BUCKETS });
  await stack.s3.put('second', SYMBOL_KEY, SYMBOL_TEXT);
  // The delay only has to outlast the time the test needs to send all requests. A request that
  // arrives later is a cache hit, which adds no storage request either.
  stack.proxy.setRules([{ latencyMs: 1000 }]);

  const responses = await Promise.all(Array.from({ length: 100 }, () => request(stack.url(SYMBOL_PATH))));

  const distinctResponses = new Set(
    responses.map((response) => `${response.status} ${response.headers.get('location')}`),
  );
  t.deepEqual([...distinctResponses], [`302 ${stack.proxy.endpoint}/second/${SYMBOL_KEY}`]);
  t.is(cacheResults(stack).miss, 1);
  t.is(stack.storageLookups('first', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('second', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('third', SYMBOL_KEY), 1);
});

test('concurrent misses share one lookup', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1' }] });
  stack.proxy.setRules([{ latencyMs: 1000 }]);

  const responses = await Promise.all(
    Array.from({ length: 100 }, (_, index) => request(stack.url(index % 2 === 0 ? SYMBOL_PATH : `${SYMBOL_PATH}?try`))),
  );

  t.true(responses.every((response) => response.status === 404));
  // Plain and try requests are separate lookups, each shared by its 50 requests.
  t.is(cacheResults(stack).miss, 2);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('simultaneous lookups are coalesced', async (t) => {
  const stack = await startStack(t, { buckets: THREE_BUCKETS });
  await stack.s3.put('third', SYMBOL_KEY, SYMBOL_TEXT);
  const { lookup } = stack.gate.symgate;
  const symbol = { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false };

  // All 100 calls reach the cache and the in-flight map before any storage response can arrive.
  const results = await Promise.all(
    Array.from({ length: 100 }, () => lookup.lookup(symbol, { tryBuild: false, refresh: false })),
  );

  const caches = results.map((result) => result.cache);
  t.is(caches.filter((cache) => cache === 'miss').length, 1);
  t.is(caches.filter((cache) => cache === 'coalesced').length, 99);
  t.true(results.every((result) => result.outcome.found && result.outcome.location.bucket.name === 'third'));
  t.is(stack.storageLookups('first', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('second', SYMBOL_KEY), 1);
  t.is(stack.storageLookups('third', SYMBOL_KEY), 1);
});

test('refresh starts its own lookup', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1' }] });
  const { lookup } = stack.gate.symgate;
  const symbol = { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false };

  const results = await Promise.all([
    lookup.lookup(symbol, { tryBuild: false, refresh: false }),
    lookup.lookup(symbol, { tryBuild: false, refresh: true }),
    lookup.lookup(symbol, { tryBuild: false, refresh: false }),
  ]);

  t.deepEqual(
    results.map((result) => result.cache),
    ['miss', 'refresh', 'coalesced'],
  );
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('overtaken lookup does not overwrite refresh', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1' }] });
  // The first lookup is slow and finds no file; the refresh after the upload is fast and finds it.
  stack.proxy.setRules([{ latencyMs: 400, status: 404, times: 1 }]);
  const slow = request(stack.url(SYMBOL_PATH));
  while (stack.proxy.count() === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);
  const refreshed = await request(stack.url(`${SYMBOL_PATH}?_refresh`));
  t.is(refreshed.status, 302);

  t.is((await slow).status, 404, 'the slow lookup answers what it saw');
  const after = await request(stack.url(SYMBOL_PATH));
  t.is(after.status, 302, 'the refreshed entry is kept');
});

test('cache evicts beyond max entries', async (t) => {
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { max_entries: 10 } },
  });

  for (let index = 1; index <= 50; index += 1) {
    const response = await request(stack.url(missingPath(index)));
    t.is(response.status, 404);
    t.true(stack.gate.symgate.lookup.cacheSize <= 10, `cache size after key ${index}`);
  }
  const oldest = await request(stack.url(missingPath(1)));
  const newest = await request(stack.url(missingPath(50)));

  t.is(oldest.status, 404);
  t.is(newest.status, 404);
  t.is(stack.storageLookups('symbols', missingKey(1)), 2);
  t.is(stack.storageLookups('symbols', missingKey(50)), 1);
  t.is(stack.gate.symgate.lookup.cacheSize, 10);
});

// Serial, because 2000 requests would slow the tests that run beside it.
test.serial('flood of misses stays bounded', async (t) => {
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { max_entries: 10 } },
  });
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);
  const statuses = new Map<number, number>();
  let largestCache = 0;

  for (let batch = 0; batch < 20; batch += 1) {
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, index) => request(stack.url(missingPath(batch * 100 + index)))),
    );
    for (const response of responses) {
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
    largestCache = Math.max(largestCache, stack.gate.symgate.lookup.cacheSize);
  }
  const heartbeat = await request(stack.url('/__lbheartbeat__'));
  const found = await request(stack.url(SYMBOL_PATH));

  t.deepEqual([...statuses], [[404, 2000]]);
  t.is(stack.storageLookups('symbols'), 2001);
  t.true(largestCache <= 10);
  t.is(heartbeat.status, 200);
  t.is(found.status, 302);
});

test('missing entry expires after TTL', async (t) => {
  const clock = new ManualClock();
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { missing_ttl_seconds: 10, found_ttl_seconds: 60 } },
    clock,
  });

  await request(stack.url(SYMBOL_PATH));
  clock.advance(10_000);
  const cached = await request(stack.url(SYMBOL_PATH));
  const lookupsWhileCached = stack.storageLookups('symbols', SYMBOL_KEY);
  clock.advance(1);
  const expired = await request(stack.url(SYMBOL_PATH));

  t.is(cached.status, 404);
  t.is(lookupsWhileCached, 1);
  t.is(expired.status, 404);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('found entry expires after TTL', async (t) => {
  const clock = new ManualClock();
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { missing_ttl_seconds: 10, found_ttl_seconds: 60 } },
    clock,
  });
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);

  await request(stack.url(SYMBOL_PATH));
  // Past the missing TTL, so the found TTL is the one in force.
  clock.advance(60_000);
  const cached = await request(stack.url(SYMBOL_PATH));
  const lookupsWhileCached = stack.storageLookups('symbols', SYMBOL_KEY);
  clock.advance(1);
  const expired = await request(stack.url(SYMBOL_PATH));

  t.is(cached.status, 302);
  t.is(lookupsWhileCached, 1);
  t.is(expired.status, 302);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('expiry is seen right after a hit', async (t) => {
  const clock = new ManualClock();
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { missing_ttl_seconds: 10 } },
    clock,
  });
  const { lookup } = stack.gate.symgate;
  const symbol = { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false };
  const options = { tryBuild: false, refresh: false };

  await lookup.lookup(symbol, options);
  const hit = await lookup.lookup(symbol, options);
  // No timer runs between these calls, so a clock reading cached by the hit would still be in use.
  clock.advance(10_001);
  const expired = await lookup.lookup(symbol, options);

  t.is(hit.cache, 'hit');
  t.is(expired.cache, 'miss');
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('zero missing TTL disables caching', async (t) => {
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { missing_ttl_seconds: 0 } },
  });
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);

  const misses = [await request(stack.url(missingPath(1))), await request(stack.url(missingPath(1)))];
  const founds = [await request(stack.url(SYMBOL_PATH)), await request(stack.url(SYMBOL_PATH))];

  t.deepEqual(
    misses.map((response) => response.status),
    [404, 404],
  );
  t.deepEqual(
    founds.map((response) => response.status),
    [302, 302],
  );
  t.is(stack.storageLookups('symbols', missingKey(1)), 2);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 1);
  t.is(stack.gate.symgate.lookup.cacheSize, 1);
});

test('zero found TTL disables caching', async (t) => {
  const stack = await startStack(t, {
    buckets: [{ name: 'symbols', prefix: 'v1' }],
    config: { cache: { found_ttl_seconds: 0 } },
  });
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);

  const first = await request(stack.url(SYMBOL_PATH));
  const second = await request(stack.url(SYMBOL_PATH));

  t.is(first.status, 302);
  t.is(second.status, 302);
  t.is(second.headers.get('cache-control'), 'public, max-age=0');
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('refresh bypasses and updates cache', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1' }] });
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);

  const found = await request(stack.url(SYMBOL_PATH));
  await stack.s3.client.send(new DeleteObjectCommand({ Bucket: 'symbols', Key: SYMBOL_KEY }));
  const cachedFound = await request(stack.url(SYMBOL_PATH));
  const lookupsBeforeRefresh = stack.storageLookups('symbols', SYMBOL_KEY);
  const refreshed = await request(stack.url(`${SYMBOL_PATH}?_refresh`));
  const lookupsAfterRefresh = stack.storageLookups('symbols', SYMBOL_KEY);
  const cachedMissing = await request(stack.url(SYMBOL_PATH));

  t.is(found.status, 302);
  t.is(cachedFound.status, 302);
  t.is(lookupsBeforeRefresh, 1);
  t.is(refreshed.status, 404);
  t.is(lookupsAfterRefresh, 2);
  t.is(cachedMissing.status, 404);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('refresh finds a new upload', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1' }] });

  const missing = await request(stack.url(SYMBOL_PATH));
  await stack.s3.put('symbols', SYMBOL_KEY, SYMBOL_TEXT);
  const cachedMissing = await request(stack.url(SYMBOL_PATH));
  const refreshed = await request(stack.url(`${SYMBOL_PATH}?_refresh=1`));
  const cachedFound = await request(stack.url(SYMBOL_PATH));

  t.is(missing.status, 404);
  t.is(cachedMissing.status, 404);
  t.is(refreshed.status, 302);
  t.is(cachedFound.status, 302);
  t.is(stack.storageLookups('symbols', SYMBOL_KEY), 2);
});

test('try symbol needs try request', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1', try_prefix: 'try/v1' }] });
  await stack.s3.put('symbols', TRY_KEY, SYMBOL_TEXT);
  const tryLocation = `${stack.proxy.endpoint}/symbols/${TRY_KEY}`;

  const plain = await request(stack.url(SYMBOL_PATH));
  const tryLookupsAfterPlain = stack.storageLookups('symbols', TRY_KEY);
  const query = await request(stack.url(`${SYMBOL_PATH}?try`));
  const prefixed = await request(stack.url(`/try${SYMBOL_PATH}`));

  t.is(plain.status, 404);
  t.is(tryLookupsAfterPlain, 0);
  t.is(query.status, 302);
  t.is(query.headers.get('location'), tryLocation);
  t.is(prefixed.status, 302);
  t.is(prefixed.headers.get('location'), tryLocation);
});

test('regular location wins over try', async (t) => {
  const stack = await startStack(t, {
    buckets: [
      { name: 'regular', prefix: 'v1', try_prefix: 'try/v1' },
      { name: 'other', prefix: 'v1', try_prefix: 'try/v1' },
    ],
  });
  // The try copy sits in the first bucket and the regular copy in the second, so config order alone
  // would pick the try copy.
  await stack.s3.put('regular', TRY_KEY, SYMBOL_TEXT);
  await stack.s3.put('other', SYMBOL_KEY, SYMBOL_TEXT);

  const query = await request(stack.url(`${SYMBOL_PATH}?try`));
  const prefixed = await request(stack.url(`/try${SYMBOL_PATH}`));

  t.is(query.headers.get('location'), `${stack.proxy.endpoint}/other/${SYMBOL_KEY}`);
  t.is(prefixed.headers.get('location'), `${stack.proxy.endpoint}/other/${SYMBOL_KEY}`);
});

test('try and plain cache separately', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'symbols', prefix: 'v1', try_prefix: 'try/v1' }] });
  await stack.s3.put('symbols', TRY_KEY, SYMBOL_TEXT);

  const plain = await request(stack.url(SYMBOL_PATH));
  const tried = await request(stack.url(`${SYMBOL_PATH}?try`));
  const lookupsAfterFirstPair = stack.proxy.count();
  const plainAgain = await request(stack.url(SYMBOL_PATH));
  const triedAgain = await request(stack.url(`/try${SYMBOL_PATH}`));

  t.is(plain.status, 404);
  t.is(tried.status, 302);
  // The plain lookup makes one request and the try lookup two, one per prefix.
  t.is(lookupsAfterFirstPair, 3);
  t.is(plainAgain.status, 404);
  t.is(triedAgain.status, 302);
  t.is(stack.proxy.count(), 3);
});

test('list lookup needs exact key', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'listed', prefix: 'v1', lookup: 'list' }] });
  await stack.s3.put('listed', `${SYMBOL_KEY}.old`, SYMBOL_TEXT);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 404);
  t.is(stack.storageLookups('listed', SYMBOL_KEY), 1);
  t.is(stack.proxy.count((proxied) => proxied.method === 'HEAD'), 0);
});

test('list lookup finds key beside longer one', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'listed', prefix: 'v1', lookup: 'list' }] });
  await stack.s3.put('listed', SYMBOL_KEY, SYMBOL_TEXT);
  await stack.s3.put('listed', `${SYMBOL_KEY}.old`, SYMBOL_TEXT);
  await stack.s3.put('listed', `${SYMBOL_KEY}.older`, SYMBOL_TEXT);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${stack.proxy.endpoint}/listed/${SYMBOL_KEY}`);
});

test('list lookup finds exact key', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'listed', prefix: 'v1', lookup: 'list' }] });
  await stack.s3.put('listed', SYMBOL_KEY, SYMBOL_TEXT);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${stack.proxy.endpoint}/listed/${SYMBOL_KEY}`);
  t.is(stack.storageLookups('listed', SYMBOL_KEY), 1);
});

test('list lookup finds keys with +', async (t) => {
  const stack = await startStack(t, { buckets: [{ name: 'listed', prefix: 'v1', lookup: 'list' }] });
  const key = `v1/libc++abi.dylib/${ID}/libc++abi.dylib.sym`;
  await stack.s3.put('listed', key, SYMBOL_TEXT);

  const response = await request(stack.url(`/libc%2B%2Babi.dylib/${DEBUG_ID}/libc%2B%2Babi.dylib.sym`));

  t.is(response.status, 302);
  t.is(stack.storageLookups('listed', key), 1);
});
