import { useCallback, useEffect, useState } from 'preact/hooks';
import type { Loaded } from './ui.ts';

/**
 * Loads data for a view when `deps` change, and again on `reload()`. An answer that arrives
 * after the view moved on (to another key, say) is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setLoaded({ state: 'ok', value }),
      (error: unknown) => current && setLoaded({ state: 'error', error }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return [loaded, reload];
}

/** The location hash as a path (`#/keys/abc` → `/keys/abc`), kept current. */
export function useHashPath(): string {
  const read = () => decodeURIComponent(location.hash.replace(/^#/, '')) || '/keys';
  const [path, setPath] = useState(read);
  useEffect(() => {
    const changed = () => setPath(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return path;
}

/** Goes to a view. */
export function go(path: string): void {
  location.hash = `#${path}`;
}
