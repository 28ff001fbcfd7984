import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { runCli, startCli } from './helpers/cli.js';
import { startFaultProxy } from './helpers/fault-proxy.js';
import { startS3 } from './helpers/s3.js';

const ID = '44E4EC8C2F41492B9369D6B9A059577C2';

const folders: string[] = [];

test.after.always(() => {
  for (const folder of folders) {
    rmSync(folder, { recursive: true, force: true });
  }
});

function writeConfig(text: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'symgate-cli-'));
  folders.push(folder);
  const file = path.join(folder, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

test('--check prints the effective config', async (t) => {
  const file = writeConfig(
    'buckets:\n  - name: private-symbols\n    access: private\n    credentials:\n      access_key_id: AKIDCHECKEXAMPLE\n      secret_access_key: secret-check-value\n',
  );
  const result = await runCli(['--config', file, '--check']);
  t.is(result.code, 0, result.stderr);
  t.true(result.stdout.includes('valid'));
  t.true(result.stdout.includes('name: private-symbols'));
  t.true(result.stdout.includes('found_ttl_seconds: 21600'), 'defaults are shown');
  t.false(result.stdout.includes('AKIDCHECKEXAMPLE'));
  t.false(result.stdout.includes('secret-check-value'));
});

test('invalid config exits 2 with one line per problem', async (t) => {
  const file = writeConfig('server:\n  port: high\nbuckets:\n  - name: symbols\n    prefx: v1\n');
  const result = await runCli(['--config', file]);
  t.is(result.code, 2);
  const lines = result.stderr.trim().split('\n');
  t.true(lines.some((line) => line.trim().startsWith('server.port: ')), result.stderr);
  t.true(lines.some((line) => line.trim().startsWith('buckets[0].prefx: unknown key')), result.stderr);
  t.false(result.stderr.includes('    at '), 'no stack trace');
});

test('missing config file exits 2', async (t) => {
  const result = await runCli(['--config', '/nonexistent/symgate.yaml']);
  t.is(result.code, 2);
  t.regex(result.stderr, /file not found/);
});

test('bad command line exits 2', async (t) => {
  const unknown = await runCli(['--no-such-option']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /Usage: symgate/);
  const port = await runCli(['--config', writeConfig('buckets:\n  - name: symbols\n'), '--port', 'eighty', '--check']);
  t.is(port.code, 2);
  t.regex(port.stderr, /--port/);
});

test('--help and --version exit 0', async (t) => {
  const help = await runCli(['--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--config FILE/);
  const version = await runCli(['--version']);
  t.is(version.code, 0);
  t.regex(version.stdout, /^\d+\.\d+\.\d+/);
});

test('port already in use exits 1', async (t) => {
  const s3 = await startS3({ buckets: ['symbols'] });
  try {
    const file = writeConfig(`buckets:\n  - name: symbols\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n`);
    const result = await runCli(['--config', file, '--port', String(s3.port)]);
    t.is(result.code, 1);
    t.regex(result.stdout, /EADDRINUSE/);
  } finally {
    await s3.close();
  }
});

test('SIGTERM drains requests and exits 0', async (t) => {
  const s3 = await startS3({ buckets: ['symbols'] });
  const proxy = await startFaultProxy({ host: '127.0.0.1', port: s3.port });
  try {
    await s3.put('symbols', `slow.pdb/${ID}/slow.sym`, 'MODULE slow');
    const file = writeConfig(
      `server:\n  port: 0\n  shutdown_timeout_seconds: 10\nbuckets:\n  - name: symbols\n    endpoint: ${proxy.endpoint}\n    force_path_style: true\n`,
    );
    const cli = startCli(['--config', file]);
    const listening = await cli.waitForMessage('symgate listening');
    t.is(listening.config, file);
    t.deepEqual(listening.buckets, ['symbols']);
    t.false(JSON.stringify(listening).includes('S3RVER'), 'no secrets in the start line');

    proxy.setRules([{ latencyMs: 500 }]);
    const inFlight = fetch(`${String(listening.address)}/slow.pdb/${ID}/slow.sym`, { redirect: 'manual' });
    while (proxy.count() === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    cli.child.kill('SIGTERM');

    const response = await inFlight;
    t.is(response.status, 302, 'the request in flight completes');
    t.is(await cli.exited, 0);
    t.truthy(cli.lines.find((line) => line.msg === 'Shutting down: draining requests' && line.reason === 'SIGTERM'));
    t.truthy(cli.lines.find((line) => line.msg === 'Shutdown complete'));
  } finally {
    await proxy.close();
    await s3.close();
  }
});

test('SIGINT stops an idle server', async (t) => {
  const s3 = await startS3({ buckets: ['symbols'] });
  try {
    const file = writeConfig(`server:\n  port: 0\nbuckets:\n  - name: symbols\n    endpoint: ${s3.endpoint}\n    force_path_style: true\n`);
    const cli = startCli(['--config', file]);
    await cli.waitForMessage('symgate listening');
    cli.child.kill('SIGINT');
    t.is(await cli.exited, 0);
  } finally {
    await s3.close();
  }
});
