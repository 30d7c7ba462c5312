import { describe, expect, it } from 'vitest';
import { type Counting, WindowTracker } from './window.ts';

/** A batch of `sure` Allows at shared time `at` on instances with clock `offsets` (ms), under a limit of 5. */
function batch(at: number, offsets: number[], sure: number, overlap = 0): Counting {
  return { sure, maybe: 0, lost: 0, counted: true, at, offsets, maxLimit: 5, overlap };
}

/**
 * The model's window for a rate limit of 5 a second (lengths [1] s), with two instances:
 * i0 on the shared clock, i2 1.5 s ahead. i0 allows 3 in the first window; i2, whose clock
 * has passed that window's end, opens the next and allows 5 there.
 */
function afterFasterOpenedNext(): WindowTracker {
  const w = new WindowTracker('key rate', 999, 0);
  expect(w.status(0, [0], [1])).toBe('open');
  w.count('open', batch(0, [0], 3));
  expect(w.status(600, [1500], [1])).toBe('over');
  w.count('over', batch(600, [1500], 5));
  return w;
}

describe('the reference model: windows of a spread key overlap by up to the clock spread', () => {
  it('lets an instance whose clock is behind spend what the previous window had left, and no more', () => {
    const w = afterFasterOpenedNext();
    // At 700 ms, i0's clock is still inside the first window (it ends at 1,000 ms by i0's clock).
    const status = w.status(700, [0], [1]);
    expect(status).toBe('open');
    const overlap = w.overlap(700, [0], [1], 5);
    expect(overlap).toBe(2);
    expect(w.cap(status, 5) + overlap).toBe(2);
    // Counted as possibly the previous window's: the new window's certain count stays at 5.
    w.count(status, batch(700, [0], 2, overlap));
    expect(w.describe()).toBe('key rate used 5..7');
  });

  it('gives no overlap once the slowest clock of the batch has passed the previous window', () => {
    const w = afterFasterOpenedNext();
    expect(w.overlap(1000, [0], [1], 5)).toBe(0);
    expect(w.overlap(700, [1500], [1], 5)).toBe(0);
  });

  it('gives no overlap after a reset (it deletes every lease), nor for a window that never renews', () => {
    const w = afterFasterOpenedNext();
    expect(w.overlap(700, [0], [0], 5)).toBe(0);
    w.reset(650, 'landed', 0);
    expect(w.overlap(700, [0], [1], 5)).toBe(0);
  });
});
