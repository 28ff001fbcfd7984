import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface VersionInfo {
  readonly version: string;
  /** Git commit of the running code when known: SYMGATE_COMMIT, or the checkout's HEAD. */
  readonly commit: string | undefined;
  /** The `repository` URL of package.json, when it has one. */
  readonly source: string | undefined;
}

/** Reads the version from the package's package.json and the commit from the environment or `.git`. */
export function readVersionInfo(env: NodeJS.ProcessEnv = process.env): VersionInfo {
  const root = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
  let version = '0.0.0';
  let source: string | undefined;
  if (root !== undefined) {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      version?: string;
      repository?: string | { url?: string };
    };
    version = manifest.version ?? version;
    source = typeof manifest.repository === 'string' ? manifest.repository : manifest.repository?.url;
  }
  const commit = env.SYMGATE_COMMIT || (root === undefined ? undefined : readGitHead(root));
  return { version, commit, source };
}

function findPackageRoot(start: string): string | undefined {
  let directory = start;
  for (;;) {
    if (existsSync(path.join(directory, 'package.json'))) {
      return directory;
    }
    const parent = path.dirname(directory);
    if (parent === directory) {
      return undefined;
    }
    directory = parent;
  }
}

// Reads .git without running git, which may not be installed where symgate runs.
function readGitHead(root: string): string | undefined {
  try {
    const head = readFileSync(path.join(root, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) {
      return /^[0-9a-f]{40}$/.test(head) ? head : undefined;
    }
    const ref = head.slice(5);
    const loose = path.join(root, '.git', ref);
    if (existsSync(loose)) {
      return readFileSync(loose, 'utf8').trim();
    }
    const packed = readFileSync(path.join(root, '.git', 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((entry) => entry.endsWith(` ${ref}`));
    return line?.split(' ')[0];
  } catch {
    return undefined;
  }
}
