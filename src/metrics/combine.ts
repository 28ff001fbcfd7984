import type { Instrumentation } from '../instrumentation.js';

/**
 * Returns one instrumentation that forwards every call to each of `targets`
 * in order, skipping undefined ones. With a single target, that target is
 * returned unchanged.
 */
export function combineInstrumentation(...targets: (Instrumentation | undefined)[]): Instrumentation | undefined {
  const present = targets.filter((target): target is Instrumentation => target !== undefined);
  if (present.length <= 1) {
    return present[0];
  }
  return {
    storageRequest: (...args) => present.forEach((target) => target.storageRequest(...args)),
    cacheLookup: (...args) => present.forEach((target) => target.cacheLookup(...args)),
    lookupFinished: (...args) => present.forEach((target) => target.lookupFinished(...args)),
    symbolFound: (...args) => present.forEach((target) => target.symbolFound(...args)),
    requestIgnored: (...args) => present.forEach((target) => target.requestIgnored(...args)),
    requestRejected: () => present.forEach((target) => target.requestRejected()),
    requestFinished: (...args) => present.forEach((target) => target.requestFinished(...args)),
  };
}
