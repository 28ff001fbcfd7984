export { Bucket, type ExistsResult } from './bucket.js';
export { createLocations, type Location, type Locations } from './locations.js';
export { encodeKey, joinKey, publicObjectUrl } from './object-url.js';
export { translateS3Error } from './translate-error.js';
