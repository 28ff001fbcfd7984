// Shared by every request without a query string; nothing writes to it.
const EMPTY_QUERY = new URLSearchParams();
const SLASH = 0x2f;

export interface RequestTarget {
  /** The path exactly as sent, still percent-encoded. */
  readonly pathname: string;
  readonly query: URLSearchParams;
}

/**
 * Splits a request target into path and query without resolving it against a
 * base URL, which would read `//x/y` as a host and collapse `..` segments.
 * Absolute-form targets (`http://host/path`) are reduced to their path.
 */
export function splitRequestTarget(url: string | undefined): RequestTarget | undefined {
  if (url === undefined) {
    return undefined;
  }
  let target = url;
  // Origin-form targets (`/path`), which clients send to a server, skip the regular expression.
  if (target.charCodeAt(0) !== SLASH) {
    const absolute = /^https?:\/\/[^/?#]*/i.exec(target);
    if (absolute === null) {
      return undefined;
    }
    target = target.slice(absolute[0].length) || '/';
    if (!target.startsWith('/')) {
      return undefined;
    }
  }
  const hash = target.indexOf('#');
  if (hash !== -1) {
    target = target.slice(0, hash);
  }
  const mark = target.indexOf('?');
  if (mark === -1) {
    return { pathname: target, query: EMPTY_QUERY };
  }
  return { pathname: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}
