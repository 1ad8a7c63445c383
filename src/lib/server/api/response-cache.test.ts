import { describe, expect, it } from 'vitest';
import { cacheKey, ResponseCache } from './response-cache';

const bytes = (n: number) => new Uint8Array(n);

describe('response cache', () => {
  it('keys requests by version, path and parameters in any order', () => {
    const a = cacheKey(3, new URL('http://x/api/v1/drift?structure=Heart&model=m@1&structure=Lung_L'));
    const b = cacheKey(3, new URL('http://x/api/v1/drift?model=m@1&structure=Lung_L&structure=Heart'));
    expect(a).toBe(b);
    expect(cacheKey(4, new URL('http://x/api/v1/drift?model=m@1&structure=Lung_L&structure=Heart'))).not.toBe(
      a,
    );
    expect(cacheKey(3, new URL('http://x/api/v1/editing?model=m@1'))).not.toBe(
      cacheKey(3, new URL('http://x/api/v1/drift?model=m@1')),
    );
  });

  it('drops the least recently used answers beyond its entry and byte limits', () => {
    const cache = new ResponseCache(2, 1000);
    cache.set('a', bytes(100), []);
    cache.set('b', bytes(100), []);
    expect(cache.get('a')).toBeDefined();
    cache.set('c', bytes(100), []);
    // b was the least recently used
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    const small = new ResponseCache(10, 1000);
    small.set('x', bytes(200), []);
    small.set('y', bytes(200), []);
    small.set('z', bytes(200), []);
    small.set('w', bytes(200), []);
    small.set('v', bytes(200), []);
    small.set('u', bytes(200), []);
    expect(small.get('x')).toBeUndefined();
    expect(small.size).toBe(5);
    // an answer of more than a quarter of the budget is not kept
    small.set('big', bytes(300), []);
    expect(small.get('big')).toBeUndefined();
  });
});
