import type { BucketConfig } from '../config/index.js';

/** Percent-encodes one key segment as S3 and SigV4 expect (RFC 3986 unreserved characters stay). */
function encodeKeySegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

// Keys made only of these characters need no encoding, which is true of most symbol keys.
const URL_SAFE_KEY = /^[A-Za-z0-9._~/-]*$/;

/** Percent-encodes an object key for a URL path, keeping `/` between segments. */
export function encodeKey(key: string): string {
  if (URL_SAFE_KEY.test(key)) {
    return key;
  }
  return key.split('/').map(encodeKeySegment).join('/');
}

/**
 * Builds the plain (unsigned) URL of an object in a public bucket: below
 * `public_url` when set, else at the bucket's endpoint (path style or virtual
 * host), else at AWS's regional endpoint.
 */
export function publicObjectUrl(bucket: BucketConfig, key: string): string {
  return `${publicUrlBase(bucket)}/${encodeKey(key)}`;
}

/** Returns the URL that every object URL of a public bucket starts with, without a trailing slash. */
export function publicUrlBase(bucket: BucketConfig): string {
  if (bucket.public_url !== undefined) {
    return bucket.public_url;
  }
  if (bucket.endpoint !== undefined) {
    const endpoint = new URL(bucket.endpoint);
    const base = endpoint.pathname.replace(/\/+$/, '');
    if (bucket.force_path_style) {
      return `${endpoint.origin}${base}/${encodeKeySegment(bucket.name)}`;
    }
    return `${endpoint.protocol}//${bucket.name}.${endpoint.host}${base}`;
  }
  if (bucket.force_path_style) {
    return `https://s3.${bucket.region}.amazonaws.com/${encodeKeySegment(bucket.name)}`;
  }
  return `https://${bucket.name}.s3.${bucket.region}.amazonaws.com`;
}

/** Joins a location prefix and a symbol key; an empty prefix adds nothing. */
export function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`;
}
