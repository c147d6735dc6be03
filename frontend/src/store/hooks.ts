// Components read a store through selectors: a component re-renders only when what its selector
// returns changes (by `Object.is`, or by the given equality for derived lists).
import { useCallback, useRef, useSyncExternalStore } from "react";

export interface Subscribable {
  subscribe(listener: () => void): () => void;
}

export function useSelector<S extends Subscribable, T>(
  store: S,
  selector: (s: S) => T,
  isEqual: (a: T, b: T) => boolean = Object.is,
): T {
  const cache = useRef<{ value: T } | null>(null);
  const selectorRef = useRef(selector);
  selectorRef.current = selector;
  const get = useCallback(() => {
    const next = selectorRef.current(store);
    if (cache.current && isEqual(cache.current.value, next)) return cache.current.value;
    cache.current = { value: next };
    return next;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);
  return useSyncExternalStore(store.subscribe, get, get);
}

/** Equal when both arrays hold the same elements (by identity) in the same order. */
export function shallowArrayEqual<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
