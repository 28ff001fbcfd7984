import type { BucketConfig } from '../config/index.js';

/** Percent-encodes one key segment as S3 and SigV4 expect (RFC 3986 unreserved characters stay). */
function encodeKeySegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Percent-encodes an object key for a URL path, keeping `/` between segments. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeKeySegment).join('/');
}

/**
 * Builds the plain (unsigned) URL of an object in a public bucket: below
 * `public_url` when set, else at the bucket's endpoint (path style or virtual
 * host), else at AWS's regional endpoint.
 */
export function publicObjectUrl(bucket: BucketConfig, key: string): string {
  const path = encodeKey(key);
  if (bucket.public_url !== undefined) {
    return `${bucket.public_url}/${path}`;
  }
  if (bucket.endpoint !== undefined) {
    const endpoint = new URL(bucket.endpoint);
    const base = endpoint.pathname.replace(/\/+$/, '');
    if (bucket.force_path_style) {
      return `${endpoint.origin}${base}/${encodeKeySegment(bucket.name)}/${path}`;
    }
    return `${endpoint.protocol}//${bucket.name}.${endpoint.host}${base}/${path}`;
  }
  if (bucket.force_path_style) {
    return `https://s3.${bucket.region}.amazonaws.com/${encodeKeySegment(bucket.name)}/${path}`;
  }
  return `https://${bucket.name}.s3.${bucket.region}.amazonaws.com/${path}`;
}

/** Joins a location prefix and a symbol key; an empty prefix adds nothing. */
export function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`;
}
