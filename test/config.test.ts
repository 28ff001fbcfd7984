import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { formatEffectiveConfig, loadConfigFile, parseConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

const MINIMAL = 'buckets:\n  - name: symbols\n';

function problemsOf(source: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(source, { baseDirectory: '/srv/symgate', env });
  } catch (error) {
    if (error instanceof ConfigError) {
      return [...error.problems];
    }
    throw error;
  }
  return [];
}

test('minimal config gets the defaults', (t) => {
  const config = parseConfig(MINIMAL, { baseDirectory: '/srv/symgate', env: {} });
  t.is(config.server.port, 8000);
  t.is(config.server.host, '127.0.0.1');
  t.is(config.cache.max_entries, 1_000_000);
  t.is(config.cache.found_ttl_seconds, 21_600);
  t.is(config.cache.missing_ttl_seconds, 600);
  t.deepEqual(config.download.allowed_extensions, ['.sym', '.dl_', '.ex_', '.pd_', '.dbg.gz', '.tar.bz2']);
  t.is(config.buckets[0]?.prefix, '');
  t.is(config.buckets[0]?.access, 'public');
  t.is(config.buckets[0]?.lookup, 'head');
  t.is(config.buckets[0]?.presign_expires_seconds, 3600);
  t.is(config.logging.level, 'info');
});

test('config is frozen', (t) => {
  const config = parseConfig(MINIMAL, { baseDirectory: '/srv/symgate', env: {} });
  t.true(Object.isFrozen(config));
  t.true(Object.isFrozen(config.buckets[0]));
  t.true(Object.isFrozen(config.download.allowed_extensions));
});

test('unknown keys are rejected with their path', (t) => {
  const problems = problemsOf('server:\n  prot: 80\nbuckets:\n  - name: symbols\n    prefx: v1\n');
  t.true(problems.some((problem) => problem.startsWith('server.prot: unknown key')), problems.join('\n'));
  t.true(problems.some((problem) => problem.startsWith('buckets[0].prefx: unknown key')), problems.join('\n'));
});

test('every problem is reported', (t) => {
  const problems = problemsOf(
    'server:\n  port: 70000\nbuckets:\n  - name: ok-bucket\n  - name: x\n    access: open\n    lookup: scan\ncache:\n  found_ttl_seconds: 1.5\n',
  );
  t.true(problems.includes('server.port: expected at most 65535, got 70000'), problems.join('\n'));
  t.true(problems.some((problem) => problem.startsWith('buckets[1].name:')), problems.join('\n'));
  t.true(problems.some((problem) => problem.startsWith('buckets[1].access:')), problems.join('\n'));
  t.true(problems.some((problem) => problem.startsWith('buckets[1].lookup:')), problems.join('\n'));
  t.true(problems.some((problem) => problem.startsWith('cache.found_ttl_seconds: expected a whole number')), problems.join('\n'));
});

test('missing buckets are an error', (t) => {
  const problems = problemsOf('server:\n  port: 8000\n');
  t.deepEqual(problems, ['buckets: required key is missing']);
  t.deepEqual(problemsOf('buckets: []\n'), ['buckets: at least one bucket is required']);
});

test('wrong types name the key', (t) => {
  const problems = problemsOf('buckets:\n  - name: symbols\n    prefix: 12\n');
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /^buckets\[0\]\.prefix: .*string/);
});

test('invalid block pattern is rejected', (t) => {
  const problems = problemsOf(`${MINIMAL}download:\n  block_patterns: ['(unclosed']\n`);
  t.deepEqual(problems, ['download.block_patterns[0]: invalid regular expression (Unterminated group), got "(unclosed"']);
});

test('extensions need a leading dot', (t) => {
  const problems = problemsOf(`${MINIMAL}download:\n  allowed_extensions: [sym]\n`);
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /^download\.allowed_extensions\[0\]: expected an extension/);
});

test('public_url with private access is rejected', (t) => {
  const problems = problemsOf('buckets:\n  - name: symbols\n    access: private\n    public_url: https://cdn.example.com\n');
  t.deepEqual(problems, ['buckets[0].public_url: only used with access: public; remove it or set access: public']);
});

test('invalid YAML names the file position', (t) => {
  const problems = problemsOf('buckets:\n  - name: [unclosed\n');
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /invalid YAML/);
});

test('environment references are replaced', (t) => {
  const config = parseConfig(
    'server:\n  port: ${PORT:-9000}\n  host: ${HOST:-0.0.0.0}\nbuckets:\n  - name: ${BUCKET}\n    credentials:\n      access_key_id: ${KEY_ID}\n      secret_access_key: ${SECRET}\n',
    { baseDirectory: '/srv', env: { BUCKET: 'from-env', KEY_ID: '0123', SECRET: 's3cr3t', HOST: '' } },
  );
  t.is(config.server.port, 9000);
  t.is(config.server.host, '0.0.0.0', 'an empty variable takes the fallback');
  t.is(config.buckets[0]?.name, 'from-env');
  t.is(config.buckets[0]?.credentials?.access_key_id, '0123', 'a numeric secret stays a string');
});

test('unset variable is an error with its key', (t) => {
  const problems = problemsOf('buckets:\n  - name: symbols\n    credentials:\n      access_key_id: ${NOPE_ID}\n      secret_access_key: x\n');
  t.is(problems.length, 1);
  t.regex(problems[0] ?? '', /^buckets\[0\]\.credentials\.access_key_id: environment variable NOPE_ID is not set/);
});

test('double dollar escapes a reference', (t) => {
  const config = parseConfig('buckets:\n  - name: symbols\n    public_url: https://cdn.example.com/$${literal}\n', {
    baseDirectory: '/srv',
    env: {},
  });
  t.is(config.buckets[0]?.public_url, 'https://cdn.example.com/${literal}');
});

test('prefix slashes are trimmed', (t) => {
  const config = parseConfig('buckets:\n  - name: symbols\n    prefix: /v1/\n    try_prefix: try/v1/\n', {
    baseDirectory: '/srv',
    env: {},
  });
  t.is(config.buckets[0]?.prefix, 'v1');
  t.is(config.buckets[0]?.try_prefix, 'try/v1');
});

test('relative paths resolve against the config folder', (t) => {
  const folder = mkdtempSync(path.join(tmpdir(), 'symgate-config-'));
  const file = path.join(folder, 'symgate.yaml');
  writeFileSync(file, `${MINIMAL}embedded_store:\n  directory: ./store\n  seed_directory: seeds\n`);
  const { config, path: loadedPath } = loadConfigFile(file, {});
  t.is(loadedPath, file);
  t.is(config.embedded_store?.directory, path.join(folder, 'store'));
  t.is(config.embedded_store?.seed_directory, path.join(folder, 'seeds'));
  t.is(config.missing_symbols.database, path.join(folder, 'data', 'missing-symbols.sqlite'));
});

test('missing file is a read error', (t) => {
  const error = t.throws(() => loadConfigFile('/nonexistent/symgate.yaml', {}), { instanceOf: ConfigError });
  t.is(error?.code, 'ERR_CONFIG_READ');
  t.regex(error?.message ?? '', /file not found/);
});

test('effective config masks secrets', (t) => {
  const config = parseConfig(
    'buckets:\n  - name: symbols\n    access: private\n    credentials:\n      access_key_id: AKIAEXAMPLEKEY\n      secret_access_key: very-secret-value\n      session_token: token-value\nmissing_symbols:\n  database: postgres://user:hunter2@db.internal/symgate\n',
    { baseDirectory: '/srv', env: {} },
  );
  const text = formatEffectiveConfig(config);
  t.false(text.includes('AKIAEXAMPLEKEY'));
  t.false(text.includes('very-secret-value'));
  t.false(text.includes('token-value'));
  t.false(text.includes('hunter2'));
  t.true(text.includes('name: symbols'));
});

test('repository config.yaml is valid', (t) => {
  const { config } = loadConfigFile(path.join(import.meta.dirname, '..', 'config.yaml'), {});
  t.true(config.buckets.length > 0);
  t.truthy(config.embedded_store);
});

test('type errors never echo a secret', (t) => {
  const problems = problemsOf(
    'buckets:\n  - name: symbols\n    credentials:\n      access_key_id: 987654321\n      secret_access_key: 123456789\n',
  );
  t.is(problems.length, 2);
  t.false(problems.join('\n').includes('987654321'));
  t.false(problems.join('\n').includes('123456789'));
});
