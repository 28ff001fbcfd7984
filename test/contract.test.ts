import test from 'ava';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { startS3, type S3Fixture } from './helpers/s3.js';
import { bucketConfig, rawRequest, request, startSymgate, type SymgateFixture } from './helpers/symgate.js';

// One s3rver, a counting proxy in front of it and one symgate for the whole
// file. Tests use distinct file names, so storage counts do not interfere.
let s3: S3Fixture;
let proxy: FaultProxy;
let gate: SymgateFixture;

const ID = '44E4EC8C2F41492B9369D6B9A059577C2';

test.before(async () => {
  s3 = await startS3({ buckets: ['first', 'second'] });
  proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  gate = await startSymgate({
    buckets: [
      bucketConfig('first', proxy.endpoint, { prefix: 'v1', try_prefix: 'try/v1' }),
      bucketConfig('second', proxy.endpoint, { prefix: '' }),
    ],
    download: { block_patterns: ['^blocked\\.pdb/'] },
  });
  await s3.put('first', `v1/xul.pdb/${ID}/xul.sym`, 'MODULE windows x86_64 xul');
  await s3.put('second', `only-second.pdb/${ID}/only-second.sym`, 'MODULE second');
  await s3.put('first', `v1/libc++abi.dylib/${ID}/libc++abi.dylib.sym`, 'MODULE mac');
  await s3.put('first', `v1/My App.pdb/${ID}/My App.sym`, 'MODULE space');
  await s3.put('first', `v1/汉字.pdb/${ID}/汉字😀.sym`, 'MODULE unicode');
  await s3.put('first', `try/v1/tried.pdb/${ID}/tried.sym`, 'MODULE try');
  await s3.put('first', `v1/xul.dll/5A9D5B1E1D000/xul.dl_`, 'compressed');
});

test.after.always(async () => {
  await gate?.close();
  await proxy?.close();
  await s3?.close();
});

function storageCalls(name: string): number {
  return proxy.count((request) => request.key.includes(name));
}

test('GET of a found symbol redirects', async (t) => {
  const response = await request(`${gate.url}/xul.pdb/${ID}/xul.sym`);
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${proxy.endpoint}/first/v1/xul.pdb/${ID}/xul.sym`);
  t.is(response.headers.get('access-control-allow-origin'), '*');
  t.is(response.headers.get('access-control-allow-methods'), 'GET');
  t.regex(response.headers.get('cache-control') ?? '', /max-age=\d+/);
  t.is(response.body, '');
});

test('HEAD of a found symbol is 200 without body', async (t) => {
  const response = await rawRequest(gate.url, `/xul.pdb/${ID}/xul.sym`, { method: 'HEAD' });
  t.is(response.status, 200);
  t.is(response.body, '');
  t.is(response.headers.location, undefined);
  t.is(response.headers['access-control-allow-origin'], '*');
});

test('later bucket serves a symbol', async (t) => {
  const response = await request(`${gate.url}/only-second.pdb/${ID}/only-second.sym`);
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${proxy.endpoint}/second/only-second.pdb/${ID}/only-second.sym`);
});

test('missing symbol is 404 Symbol Not Found', async (t) => {
  const get = await request(`${gate.url}/absent.pdb/${ID}/absent.sym`);
  t.is(get.status, 404);
  t.is(get.body, 'Symbol Not Found');
  t.is(get.headers.get('access-control-allow-origin'), '*');
  const head = await rawRequest(gate.url, `/absent.pdb/${ID}/absent.sym`, { method: 'HEAD' });
  t.is(head.status, 404);
  t.is(head.body, '');
});

test('debug id matches in any case', async (t) => {
  const response = await request(`${gate.url}/xul.pdb/${ID.toLowerCase()}/xul.sym`);
  t.is(response.status, 302);
  t.true(response.headers.get('location')?.endsWith(`/xul.pdb/${ID}/xul.sym`));
});

test('compressed PE names are served', async (t) => {
  const response = await request(`${gate.url}/xul.dll/5a9d5b1e1d000/xul.dl_`);
  t.is(response.status, 302);
});

const ignoredCases: [string, string][] = [
  ['extension not allowed', `/ignored-ext.pdb/${ID}/ignored-ext.exe`],
  ['file.ptr', `/ignored-ptr.pdb/${ID}/file.ptr`],
  ['FILE.PTR in capitals', `/ignored-ptr2.pdb/${ID}/FILE.PTR`],
  ['all-zero debug id', '/ignored-zero.pdb/000000000000000000000000000000000/ignored-zero.sym'],
  ['block pattern', `/blocked.pdb/${ID}/ignored-blocked.sym`],
];

for (const [name, path] of ignoredCases) {
  test(`ignored: ${name}`, async (t) => {
    const response = await rawRequest(gate.url, path, { headers: { Debug: 'true' } });
    t.is(response.status, 404);
    t.is(response.body, 'Symbol Not Found (and ignored)');
    t.is(response.headers['debug-time'], '0');
    t.is(storageCalls('ignored'), 0, 'no storage call');
  });
}

const unsafeCharacters = ['\\', '^', '`', '<', '>', '{', '}', '[', ']', '#', '%', '"', "'", '~', '|'];

for (const character of unsafeCharacters) {
  test(`400 for ${JSON.stringify(character)} in a file name`, async (t) => {
    const encoded = encodeURIComponent(character);
    for (const path of [`/bad${encoded}.pdb/${ID}/bad.sym`, `/bad.pdb/${ID}/bad${encoded}.sym`]) {
      const response = await rawRequest(gate.url, path);
      t.is(response.status, 400, path);
      t.true(response.body.length > 0, 'the body explains the error');
    }
    t.is(storageCalls('bad'), 0, 'no storage call');
  });
}

test('400 for control and Latin-1 characters', async (t) => {
  for (const encoded of ['%00', '%01', '%1F', '%7F', '%C2%80', '%C3%A9', '%C3%BF']) {
    const response = await rawRequest(gate.url, `/ctl${encoded}.pdb/${ID}/ctl.sym`);
    t.is(response.status, 400, encoded);
  }
  t.is(storageCalls('ctl'), 0);
});

test('400 names the offending character', async (t) => {
  const response = await rawRequest(gate.url, `/named.pdb/${ID}/na%23med.sym`);
  t.is(response.status, 400);
  t.true(response.body.includes('"#"'));
  t.true(response.body.includes('symbol_file'));
});

test('Unicode and spaces are valid names', async (t) => {
  const unicode = await request(`${gate.url}/${encodeURIComponent('汉字.pdb')}/${ID}/${encodeURIComponent('汉字😀.sym')}`);
  t.is(unicode.status, 302);
  const fetched = await fetch(unicode.headers.get('location')!);
  t.is(await fetched.text(), 'MODULE unicode');

  const spaced = await request(`${gate.url}/My%20App.pdb/${ID}/My%20App.sym`);
  t.is(spaced.status, 302);
  const fetchedSpaced = await fetch(spaced.headers.get('location')!);
  t.is(await fetchedSpaced.text(), 'MODULE space');
});

test('plus is found as +, %2B and %2b', async (t) => {
  for (const name of ['libc++abi', 'libc%2B%2Babi', 'libc%2b%2babi']) {
    const response = await rawRequest(gate.url, `/${name}.dylib/${ID}/${name}.dylib.sym`);
    t.is(response.status, 302, name);
    t.true(response.headers.location?.includes('libc%2B%2Babi.dylib'), name);
    const fetched = await fetch(response.headers.location!);
    t.is(await fetched.text(), 'MODULE mac', name);
  }
});

test('400 for decoded slash, backslash and dot segments', async (t) => {
  for (const path of [
    `/dot%2Fslash.pdb/${ID}/x.sym`,
    `/x.pdb/${ID}/dot%2Fslash.sym`,
    `/dot%5Cslash.pdb/${ID}/x.sym`,
    `/./${ID}/x.sym`,
    `/../${ID}/x.sym`,
    `/x.pdb/${ID}/%2E%2E`,
    `/x.pdb/${ID}/%2e`,
  ]) {
    const response = await rawRequest(gate.url, path);
    t.is(response.status, 400, path);
  }
});

test('400 for malformed percent-encoding', async (t) => {
  const response = await rawRequest(gate.url, `/bad%zz.pdb/${ID}/x.sym`);
  t.is(response.status, 400);
  t.regex(response.body, /percent-encoding/);
});

test('400 for a debug id that is not hex', async (t) => {
  const response = await rawRequest(gate.url, '/x.pdb/NOT-HEX/x.sym');
  t.is(response.status, 400);
  t.regex(response.body, /debug_id/);
});

test('400 for an overlong file name', async (t) => {
  const long = 'a'.repeat(300);
  const response = await rawRequest(gate.url, `/${long}.pdb/${ID}/x.sym`);
  t.is(response.status, 400);
});

for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
  test(`${method} is 405 with Allow`, async (t) => {
    const response = await rawRequest(gate.url, `/xul.pdb/${ID}/xul.sym`, { method });
    t.is(response.status, 405);
    t.is(response.headers.allow, 'GET, HEAD');
  });
}

test('try symbols need /try/ or ?try', async (t) => {
  const plain = await request(`${gate.url}/tried.pdb/${ID}/tried.sym`);
  t.is(plain.status, 404);
  const query = await request(`${gate.url}/tried.pdb/${ID}/tried.sym?try`);
  t.is(query.status, 302);
  t.is(query.headers.get('location'), `${proxy.endpoint}/first/try/v1/tried.pdb/${ID}/tried.sym`);
  const valued = await request(`${gate.url}/tried.pdb/${ID}/tried.sym?try=0`);
  t.is(valued.status, 302);
  const prefixed = await request(`${gate.url}/try/tried.pdb/${ID}/tried.sym`);
  t.is(prefixed.status, 302);
});

test('regular location wins over try', async (t) => {
  const response = await request(`${gate.url}/try/xul.pdb/${ID}/xul.sym`);
  t.is(response.status, 302);
  t.is(response.headers.get('location'), `${proxy.endpoint}/first/v1/xul.pdb/${ID}/xul.sym`);
});

test('legacy product prefixes are accepted', async (t) => {
  for (const product of ['firefox', 'thunderbird', 'b2g']) {
    const response = await request(`${gate.url}/${product}/xul.pdb/${ID}/xul.sym`);
    t.is(response.status, 302, product);
  }
  const tried = await request(`${gate.url}/try/firefox/tried.pdb/${ID}/tried.sym`);
  t.is(tried.status, 302);
});

test('unknown 4-segment path is 404', async (t) => {
  const response = await request(`${gate.url}/notaproduct/xul.pdb/${ID}/xul.sym`);
  t.is(response.status, 404);
  t.not(response.body, 'Symbol Not Found');
});

test('other paths are 404', async (t) => {
  for (const path of ['/', '/index2.txt', '/xul.pdb/', `/xul.pdb//xul.sym`, `/a/b/c/d/e`]) {
    const response = await rawRequest(gate.url, path);
    t.is(response.status, 404, path);
  }
});

test('Debug header adds Debug-Time', async (t) => {
  for (const value of ['true', '1', 'yes', 'TRUE', 'Yes']) {
    const response = await request(`${gate.url}/xul.pdb/${ID}/xul.sym`, { headers: { Debug: value } });
    t.regex(response.headers.get('debug-time') ?? '', /^\d+\.\d+$/, value);
  }
  const missing = await request(`${gate.url}/absent2.pdb/${ID}/absent2.sym`, { headers: { Debug: 'true' } });
  t.regex(missing.headers.get('debug-time') ?? '', /^\d+\.\d+$/);
  const without = await request(`${gate.url}/xul.pdb/${ID}/xul.sym`);
  t.is(without.headers.get('debug-time'), null);
  const off = await request(`${gate.url}/xul.pdb/${ID}/xul.sym`, { headers: { Debug: 'false' } });
  t.is(off.headers.get('debug-time'), null);
});

test('second request is served from cache', async (t) => {
  await request(`${gate.url}/cached.pdb/${ID}/cached.sym`);
  const afterFirst = storageCalls('cached.pdb');
  t.is(afterFirst, 2, 'one request per bucket');
  const second = await request(`${gate.url}/cached.pdb/${ID}/cached.sym`);
  t.is(second.status, 404);
  t.is(storageCalls('cached.pdb'), afterFirst);
});

test('_refresh bypasses the cache', async (t) => {
  await request(`${gate.url}/refreshed.pdb/${ID}/refreshed.sym`);
  await s3.put('first', `v1/refreshed.pdb/${ID}/refreshed.sym`, 'MODULE late');
  const cached = await request(`${gate.url}/refreshed.pdb/${ID}/refreshed.sym`);
  t.is(cached.status, 404);
  const refreshed = await request(`${gate.url}/refreshed.pdb/${ID}/refreshed.sym?_refresh`);
  t.is(refreshed.status, 302);
  const after = await request(`${gate.url}/refreshed.pdb/${ID}/refreshed.sym`);
  t.is(after.status, 302, 'the fresh result is stored');
});

test('absolute-form request target works', async (t) => {
  const response = await rawRequest(gate.url, `${gate.url}/xul.pdb/${ID}/xul.sym`);
  t.is(response.status, 302);
});

test('lbheartbeat answers 200', async (t) => {
  const response = await request(`${gate.url}/__lbheartbeat__`);
  t.is(response.status, 200);
});

test('heartbeat reports every bucket', async (t) => {
  const response = await request(`${gate.url}/__heartbeat__`);
  t.is(response.status, 200);
  const body = JSON.parse(response.body) as { status: string; buckets: { name: string; status: string }[] };
  t.is(body.status, 'ok');
  t.deepEqual(
    body.buckets.map((bucket) => [bucket.name, bucket.status]),
    [
      ['first', 'ok'],
      ['second', 'ok'],
    ],
  );
});

test('version names the package version', async (t) => {
  const response = await request(`${gate.url}/__version__`);
  t.is(response.status, 200);
  const body = JSON.parse(response.body) as { version: string };
  t.regex(body.version, /^\d+\.\d+\.\d+/);
});

test('request log line has the fields', async (t) => {
  await request(`${gate.url}/logged.pdb/${ID}/logged.sym`);
  const line = gate.logs
    .withMessage('Request finished')
    .find((entry) => String(entry.path).startsWith('/logged.pdb'));
  t.truthy(line);
  t.is(line?.method, 'GET');
  t.is(line?.status, 404);
  t.is(line?.cache, 'miss');
  t.is(typeof line?.duration_ms, 'number');
});
