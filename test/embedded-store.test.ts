import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import test from 'ava';
import { startCli } from './helpers/cli.js';

const REPOSITORY = path.join(import.meta.dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// The repository's config.yaml with its fixed ports replaced, so the test
// runs beside a symgate started by hand.
async function repositoryConfigOnFreePorts(): Promise<{ file: string; folder: string }> {
  const storePort = await freePort();
  const folder = mkdtempSync(path.join(tmpdir(), 'symgate-embedded-'));
  const text = readFileSync(path.join(REPOSITORY, 'config.yaml'), 'utf8')
    .replaceAll('127.0.0.1:4569', `127.0.0.1:${storePort}`)
    .replace(/port: 4569/, `port: ${storePort}`)
    .replace(/port: \$\{SYMGATE_PORT:-8000\}/, 'port: 0')
    .replace('./data/embedded-store', path.join(folder, 'store'))
    .replace('./samples/store', path.join(REPOSITORY, 'samples', 'store'));
  const file = path.join(folder, 'config.yaml');
  writeFileSync(file, text);
  return { file, folder };
}

test('default config serves the samples', async (t) => {
  const { file, folder } = await repositoryConfigOnFreePorts();
  const cli = startCli(['--config', file]);
  t.teardown(() => {
    cli.child.kill('SIGKILL');
    rmSync(folder, { recursive: true, force: true });
  });
  const seeded = await cli.waitForMessage('Embedded store started');
  t.is(seeded.seeded_objects, 6);
  const listening = await cli.waitForMessage('symgate listening');
  const base = String(listening.address);

  const plain = await fetch(`${base}/xul.pdb/44E4EC8C2F41492B9369D6B9A059577C2/xul.sym`, { redirect: 'manual' });
  t.is(plain.status, 302);
  const plainObject = await fetch(plain.headers.get('location')!);
  t.is(plainObject.status, 200);
  t.regex(await plainObject.text(), /^MODULE windows x86_64 44E4EC8C2F41492B9369D6B9A059577C2 xul\.pdb/);

  // Stored gzip-compressed with Content-Encoding: gzip, as Mozilla stores .sym files.
  const gzipped = await fetch(`${base}/firefox.pdb/448794C699914DB8A8F9B9F88B98D7412/firefox.sym`, { redirect: 'manual' });
  t.is(gzipped.status, 302);
  const raw = await fetch(gzipped.headers.get('location')!, { headers: { 'Accept-Encoding': 'identity' } });
  t.is(raw.headers.get('content-encoding'), 'gzip');
  const body = Buffer.from(await raw.arrayBuffer());
  t.regex(
    body[0] === 0x1f ? gunzipSync(body).toString('utf8') : body.toString('utf8'),
    /^MODULE .* firefox\.pdb/,
  );

  const plus = await fetch(`${base}/libc++abi.dylib/D1F5E7C3A9B14F0E8C2D6B4A1E3F5C7D0/libc++abi.dylib.sym`, { redirect: 'manual' });
  t.is(plus.status, 302);
  t.is((await fetch(plus.headers.get('location')!)).status, 200);

  const spaced = await fetch(`${base}/My%20App.pdb/0A1B2C3D4E5F60718293A4B5C6D7E8F91/My%20App.sym`, { redirect: 'manual' });
  t.is(spaced.status, 302);
  t.is((await fetch(spaced.headers.get('location')!)).status, 200);

  const tried = await fetch(`${base}/try/tried.pdb/B2C4D6E8F0A1B3C5D7E9F1A3B5C7D9E12/tried.sym`, { redirect: 'manual' });
  t.is(tried.status, 302);
  t.is((await fetch(tried.headers.get('location')!)).status, 200);

  const privateSymbol = await fetch(`${base}/private.pdb/7F3A9C2E5B1D4E8F9A0B1C2D3E4F5A6B1/private.sym`, { redirect: 'manual' });
  t.is(privateSymbol.status, 302);
  t.regex(privateSymbol.headers.get('location')!, /X-Amz-Signature=/);
  t.is((await fetch(privateSymbol.headers.get('location')!)).status, 200);

  const missing = await fetch(`${base}/xul.pdb/00000000000000000000000000000000A/xul.sym`);
  t.is(missing.status, 404);
  t.is(await missing.text(), 'Symbol Not Found');

  const heartbeat = await fetch(`${base}/__heartbeat__`);
  t.is(heartbeat.status, 200);

  cli.child.kill('SIGTERM');
  t.is(await cli.exited, 0);
  t.truthy(cli.lines.find((line) => line.msg === 'Embedded store stopped'));
});

test('busy store port is a clear error', async (t) => {
  const { file, folder } = await repositoryConfigOnFreePorts();
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const storePort = Number(/port: (\d+)/.exec(readFileSync(file, 'utf8').split('embedded_store:')[1] ?? '')?.[1]);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(storePort, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  const cli = startCli(['--config', file]);
  t.teardown(() => cli.child.kill('SIGKILL'));

  t.is(await cli.exited, 1);
  const fatal = cli.lines.find((line) => line.msg === 'symgate failed to start');
  t.truthy(fatal, cli.stderr.join('\n'));
  t.regex(JSON.stringify(fatal?.err), /Cannot start the embedded store.*embedded_store\.port/);
  t.false(cli.stderr.some((line) => line.includes("Unhandled 'error' event")));
});
