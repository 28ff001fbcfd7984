import test from 'ava';
import { splitRequestTarget } from '../src/http/request-target.js';

const cases: [string | undefined, { pathname: string; query: string } | undefined][] = [
  ['/a/b/c', { pathname: '/a/b/c', query: '' }],
  ['/a/b?try&code_file=x.dll', { pathname: '/a/b', query: 'try=&code_file=x.dll' }],
  ['/a#fragment?not=query', { pathname: '/a', query: '' }],
  ['//a/../b', { pathname: '//a/../b', query: '' }],
  ['http://symbols.example.com/a/b?x=1', { pathname: '/a/b', query: 'x=1' }],
  ['HTTPS://symbols.example.com', { pathname: '/', query: '' }],
  ['https://symbols.example.com?x=1', undefined],
  ['*', undefined],
  ['a/b', undefined],
  ['', undefined],
  ['ftp://host/a', undefined],
  [undefined, undefined],
];

for (const [url, expected] of cases) {
  test(`splits ${JSON.stringify(url)}`, (t) => {
    const target = splitRequestTarget(url);
    t.deepEqual(target === undefined ? undefined : { pathname: target.pathname, query: target.query.toString() }, expected);
  });
}
