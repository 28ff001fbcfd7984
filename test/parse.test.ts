import test from 'ava';
import { InvalidSymbolError } from '../src/errors.js';
import { parseSymbolPath } from '../src/symbols/index.js';

const LEGACY = new Set(['firefox', 'thunderbird']);
const ID = '44E4EC8C2F41492B9369D6B9A059577C2';

const shapes: [string, { debugFile: string; debugId: string; symbolFile: string; tryPrefix: boolean } | undefined][] = [
  [`/xul.pdb/${ID}/xul.sym`, { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false }],
  [`/xul.pdb/${ID.toLowerCase()}/xul.sym`, { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false }],
  [`/try/xul.pdb/${ID}/xul.sym`, { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: true }],
  [`/firefox/xul.pdb/${ID}/xul.sym`, { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false }],
  [`/try/firefox/xul.pdb/${ID}/xul.sym`, { debugFile: 'xul.pdb', debugId: ID, symbolFile: 'xul.sym', tryPrefix: true }],
  // "try" is a file name when the path has only three segments.
  [`/try/${ID}/xul.sym`, { debugFile: 'try', debugId: ID, symbolFile: 'xul.sym', tryPrefix: false }],
  [`/a%2Bb/${ID}/a+b.sym`, { debugFile: 'a+b', debugId: ID, symbolFile: 'a+b.sym', tryPrefix: false }],
  ['/', undefined],
  ['', undefined],
  ['xul.pdb/1/xul.sym', undefined],
  [`/xul.pdb/${ID}`, undefined],
  [`/xul.pdb/${ID}/`, undefined],
  [`/xul.pdb//xul.sym`, undefined],
  [`//${ID}/xul.sym`, undefined],
  [`/xul.pdb/${ID}/xul.sym/`, undefined],
  [`/other/xul.pdb/${ID}/xul.sym`, undefined],
  [`/try/other/xul.pdb/${ID}/xul.sym`, undefined],
  [`/try/firefox/extra/xul.pdb/${ID}/xul.sym`, undefined],
  [`/a/b/c/d/e/f/g/h`, undefined],
  [`/try//xul.pdb/${ID}/xul.sym`, undefined],
  [`/firefox//${ID}/xul.sym`, undefined],
];

for (const [pathname, expected] of shapes) {
  test(`parses ${JSON.stringify(pathname)}`, (t) => {
    t.deepEqual(parseSymbolPath(pathname, LEGACY), expected);
  });
}

const invalid: [string, RegExp][] = [
  [`/a%2Fb/${ID}/x.sym`, /must not contain "\/"/],
  [`/x.pdb/${ID}/..`, /must not be "\." or "\.\."/],
  [`/x.pdb/${ID}/%2E`, /must not be "\." or "\.\."/],
  [`/x.pdb/not-hex/x.sym`, /Invalid debug_id "not-hex"/],
  [`/x.pdb/${'A'.repeat(101)}/x.sym`, /up to 100 hexadecimal digits/],
  [`/x.pdb/${ID}/x%ZZ.sym`, /Invalid percent-encoding/],
  [`/x%5C.pdb/${ID}/x.sym`, /must not contain/],
  [`/x.pdb/${ID}/x%7E.sym`, /Invalid character "~"/],
  [`/${'a'.repeat(256)}/${ID}/x.sym`, /longer than 255 bytes/],
];

for (const [pathname, message] of invalid) {
  test(`rejects ${JSON.stringify(pathname.slice(0, 60))}`, (t) => {
    const error = t.throws(() => parseSymbolPath(pathname, LEGACY), { instanceOf: InvalidSymbolError });
    t.regex(error.message, message);
  });
}
