import { createHash, createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import test, { type ExecutionContext } from 'ava';

import { type BucketConfig, validateConfig } from '../src/config/index.js';
import { publicObjectUrl } from '../src/storage/index.js';
import { DEBUG_ID, startStack, type Stack } from './helpers/lookup-stack.js';
import { request, S3RVER_CONFIG_CREDENTIALS } from './helpers/symgate.js';

const ID = DEBUG_ID.toUpperCase();
const SYMBOL_PATH = `/xul.pdb/${DEBUG_ID}/xul.sym`;
const SYMBOL_KEY = `v1/xul.pdb/${ID}/xul.sym`;
const SYMBOL_TEXT = 'MODULE windows x86_64 44E4EC8C2F41492B9369D6B9A059577C2 xul.pdb\n';
const PRESIGN_EXPIRES_SECONDS = 120;

const PRIVATE_BUCKET = {
  name: 'private',
  prefix: 'v1',
  access: 'private',
  credentials: S3RVER_CONFIG_CREDENTIALS,
  presign_expires_seconds: PRESIGN_EXPIRES_SECONDS,
};
const PUBLIC_BUCKET = { name: 'public', prefix: 'v1' };

async function startPrivate(t: ExecutionContext, config: Record<string, unknown> = {}): Promise<Stack> {
  const stack = await startStack(t, { buckets: [PRIVATE_BUCKET], config });
  await stack.s3.put('private', SYMBOL_KEY, SYMBOL_TEXT);
  return stack;
}

// Resolves once the wall clock shows a later whole second than it did at `since`.
async function waitForNextSecond(since: number): Promise<void> {
  const second = Math.floor(since / 1000);
  while (Math.floor(Date.now() / 1000) === second) {
    await sleep(20);
  }
}

// RFC 3986 encoding, as SigV4 requires for query names and values.
function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

// Orders strings by UTF-16 code units, which is byte order for the ASCII names SigV4 sorts.
function compareCodeUnits(a: string, b: string): number {
  if (a < b) {
    return -1;
  }
  return a > b ? 1 : 0;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * Recomputes the SigV4 query signature of a presigned S3 GET URL with `secret`.
 * s3rver 3.7.1 serves presigned URLs without checking their signatures, so the tests check them here.
 */
function expectedSignature(url: URL, secret: string): string {
  const params = [...url.searchParams.entries()].filter(([name]) => name !== 'X-Amz-Signature');
  const canonicalQuery = params
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a], [b]) => compareCodeUnits(a, b))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = [
    'GET',
    url.pathname,
    canonicalQuery,
    `host:${url.host}\n`,
    url.searchParams.get('X-Amz-SignedHeaders') ?? '',
    'UNSIGNED-PAYLOAD',
  ].join('\n');

  const amzDate = url.searchParams.get('X-Amz-Date') ?? '';
  const [, date = '', region = '', service = ''] = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');

  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

async function download(location: string | null): Promise<{ status: number; body: string }> {
  if (location === null) {
    throw new Error('The response has no Location header');
  }
  const response = await fetch(location);
  return { status: response.status, body: await response.text() };
}

test('private redirect is presigned', async (t) => {
  const stack = await startPrivate(t);

  const response = await request(stack.url(SYMBOL_PATH));
  const location = new URL(response.headers.get('location') ?? '');

  t.is(response.status, 302);
  t.is(location.origin + location.pathname, `${stack.proxy.endpoint}/private/${SYMBOL_KEY}`);
  t.is(location.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
  t.regex(location.searchParams.get('X-Amz-Credential') ?? '', /^S3RVER\//);
  t.is(location.searchParams.get('X-Amz-Expires'), String(PRESIGN_EXPIRES_SECONDS));
  t.is(location.searchParams.get('X-Amz-SignedHeaders'), 'host');
  t.is(location.searchParams.get('X-Amz-Signature'), expectedSignature(location, 'S3RVER'));
});

test('presigned location returns the file', async (t) => {
  const stack = await startPrivate(t);

  const response = await request(stack.url(SYMBOL_PATH));
  const file = await download(response.headers.get('location'));

  t.is(file.status, 200);
  t.is(file.body, SYMBOL_TEXT);
});

test('cached redirect is signed again', async (t) => {
  const stack = await startPrivate(t);

  const first = await request(stack.url(SYMBOL_PATH));
  await waitForNextSecond(Date.now());
  const second = await request(stack.url(SYMBOL_PATH));
  const firstUrl = new URL(first.headers.get('location') ?? '');
  const secondUrl = new URL(second.headers.get('location') ?? '');

  t.is(stack.storageLookups('private', SYMBOL_KEY), 1);
  t.is(second.status, 302);
  // X-Amz-Date has the form 20250101T120000Z, so string order is time order.
  t.true((secondUrl.searchParams.get('X-Amz-Date') ?? '') > (firstUrl.searchParams.get('X-Amz-Date') ?? ''));
  t.not(secondUrl.searchParams.get('X-Amz-Signature'), firstUrl.searchParams.get('X-Amz-Signature'));
  t.is(secondUrl.searchParams.get('X-Amz-Expires'), String(PRESIGN_EXPIRES_SECONDS));
  t.is(secondUrl.searchParams.get('X-Amz-Signature'), expectedSignature(secondUrl, 'S3RVER'));

  const firstFile = await download(first.headers.get('location'));
  const secondFile = await download(second.headers.get('location'));
  t.is(firstFile.body, SYMBOL_TEXT);
  t.is(secondFile.body, SYMBOL_TEXT);
});

test('private max-age is half expiry', async (t) => {
  const stack = await startPrivate(t);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.headers.get('cache-control'), `public, max-age=${PRESIGN_EXPIRES_SECONDS / 2}`);
});

test('private max-age follows shorter TTL', async (t) => {
  const stack = await startPrivate(t, { cache: { found_ttl_seconds: 30 } });

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.headers.get('cache-control'), 'public, max-age=30');
});

test('public max-age is found TTL', async (t) => {
  const stack = await startStack(t, { buckets: [PUBLIC_BUCKET], config: { cache: { found_ttl_seconds: 900 } } });
  await stack.s3.put('public', SYMBOL_KEY, SYMBOL_TEXT);

  const response = await request(stack.url(SYMBOL_PATH));

  t.is(response.headers.get('cache-control'), 'public, max-age=900');
});

test('public lookup is unsigned', async (t) => {
  const stack = await startStack(t, { buckets: [PUBLIC_BUCKET], recordHeaders: true });
  await stack.s3.put('public', SYMBOL_KEY, SYMBOL_TEXT);

  const response = await request(stack.url(SYMBOL_PATH));
  const heads = stack.proxy.requests.filter((proxied) => proxied.method === 'HEAD');

  t.is(heads.length, 1);
  t.is(heads[0]?.headers?.authorization, undefined);
  t.is(heads[0]?.headers?.['x-amz-date'], undefined);
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${stack.proxy.endpoint}/public/${SYMBOL_KEY}`);
});

test('private lookup is signed', async (t) => {
  const stack = await startStack(t, { buckets: [PRIVATE_BUCKET], recordHeaders: true });
  await stack.s3.put('private', SYMBOL_KEY, SYMBOL_TEXT);

  await request(stack.url(SYMBOL_PATH));
  const heads = stack.proxy.requests.filter((proxied) => proxied.method === 'HEAD');

  t.is(heads.length, 1);
  t.regex(String(heads[0]?.headers?.authorization), /^AWS4-HMAC-SHA256 Credential=S3RVER\//);
});

test('HEAD request is not presigned', async (t) => {
  const stack = await startPrivate(t);

  const response = await request(stack.url(SYMBOL_PATH), { method: 'HEAD' });

  t.is(response.status, 200);
  t.is(response.headers.get('location'), null);
});

const SPECIAL_NAMES = [
  {
    key: `v1/libc++abi.dylib/${ID}/libc++abi.dylib.sym`,
    paths: [
      `/libc++abi.dylib/${DEBUG_ID}/libc++abi.dylib.sym`,
      `/libc%2B%2Babi.dylib/${DEBUG_ID}/libc%2B%2Babi.dylib.sym`,
      `/libc%2b%2babi.dylib/${DEBUG_ID}/libc%2b%2babi.dylib.sym`,
    ],
  },
  {
    key: `v1/My App.pdb/${ID}/My App.sym`,
    paths: [`/My%20App.pdb/${DEBUG_ID}/My%20App.sym`],
  },
];

const BUCKET_KINDS = [
  { access: 'public', bucket: PUBLIC_BUCKET },
  { access: 'private', bucket: PRIVATE_BUCKET },
];

for (const { access, bucket } of BUCKET_KINDS) {
  test(`${access} bucket serves + and space`, async (t) => {
    const stack = await startStack(t, { buckets: [bucket] });

    for (const { key, paths } of SPECIAL_NAMES) {
      const body = `MODULE ${key}\n`;
      await stack.s3.put(bucket.name, key, body);

      for (const path of paths) {
        const response = await request(stack.url(path));
        const file = await download(response.headers.get('location'));

        t.is(response.status, 302, path);
        if (access === 'private') {
          const location = new URL(response.headers.get('location') ?? '');
          t.is(location.searchParams.get('X-Amz-Signature'), expectedSignature(location, 'S3RVER'), path);
        }
        t.is(file.status, 200, path);
        t.is(file.body, body, path);
      }
      // Every spelling names the same object, so one lookup serves them all.
      t.is(stack.storageLookups(bucket.name, key), 1, key);
    }
  });
}

function bucketFromConfig(bucket: Record<string, unknown>): BucketConfig {
  const config = validateConfig({ buckets: [bucket] }, { baseDirectory: process.cwd(), env: {} });
  const [validated] = config.buckets;
  if (validated === undefined) {
    throw new Error('The validated config has no bucket');
  }
  return validated;
}

test('public URL encodes each key segment', (t) => {
  const bucket = bucketFromConfig({ name: 'symbols', endpoint: 'http://127.0.0.1:9000', force_path_style: true });

  const url = publicObjectUrl(bucket, `v1/libc++abi.dylib/${ID}/My App (1)!.sym`);

  t.is(url, `http://127.0.0.1:9000/symbols/v1/libc%2B%2Babi.dylib/${ID}/My%20App%20%281%29%21.sym`);
});

test('public URL keeps endpoint path', (t) => {
  const bucket = bucketFromConfig({ name: 'symbols', endpoint: 'http://127.0.0.1:9000/s3/', force_path_style: true });

  t.is(publicObjectUrl(bucket, 'v1/a.sym'), 'http://127.0.0.1:9000/s3/symbols/v1/a.sym');
});

test('public URL uses virtual host', (t) => {
  const bucket = bucketFromConfig({ name: 'symbols', region: 'eu-west-1' });

  t.is(publicObjectUrl(bucket, 'v1/a b.sym'), 'https://symbols.s3.eu-west-1.amazonaws.com/v1/a%20b.sym');
});

test('public_url replaces the bucket address', (t) => {
  const bucket = bucketFromConfig({
    name: 'symbols',
    endpoint: 'http://127.0.0.1:9000',
    public_url: 'https://symbols.example.com/base/',
  });

  t.is(publicObjectUrl(bucket, 'v1/libc++.sym'), 'https://symbols.example.com/base/v1/libc%2B%2B.sym');
});
