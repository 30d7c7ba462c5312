import { describe, expect, it } from 'vitest';
import { type Counting, WindowTracker } from './window.ts';

/**
 * The reference model lets a batch of a spread subject whose instance may still be inside the
 * previous window (by its own clock) also spend what that window had left (`overlap`). That
 * room is the previous window's, and it is there ONCE: every Allow counted against it is gone
 * from it. The model hands it out again to every later batch in the overlap, and never counts
 * it anywhere certain (`count` takes the overlap off the new window's `usedLo`, and leaves
 * `#previous.usedLo` as it was): so each batch of the slow instance before its clock passes
 * the old window's end may take the old window's leftover again. An authorizer that keeps
 * spending an old window's leases after its end (see the `spend-past-window-end` bug) passes.
 *
 * Observed (deterministic): limit 5 a second; the old window counted 3 (left: 2), a faster
 * instance opened the next and allowed 5 there. The slow instance's batches at 700, 800 and
 * 900 ms (its clock still inside the old window) are each allowed 2 more: the old window
 * reaches 9 Allows of 5, with no violation — the second and third batches should have no room.
 *
 * Fixed: the model keeps, with the previous window, at most what it has left and at most what
 * it and the new window have left together; each Allow in the overlap is taken off both.
 */
function batch(at: number, offsets: number[], sure: number, overlap = 0): Counting {
  return { sure, maybe: 0, lost: 0, counted: true, at, offsets, maxLimit: 5, overlap };
}

describe("the reference model's window overlap", () => {
  it("gives the previous window's leftover once, not to every batch inside the overlap", () => {
    const w = new WindowTracker('key rate', 999, 0);
    w.count(w.status(0, [0], [1]), batch(0, [0], 3));
    expect(w.status(600, [1500], [1])).toBe('over');
    w.count('over', batch(600, [1500], 5));

    // The slow instance, still in the first window by its clock, takes the 2 it had left.
    const first = w.status(700, [0], [1]);
    const room = w.overlap(700, [0], [1], 5);
    expect(w.cap(first, 5) + room).toBe(2);
    w.count(first, batch(700, [0], 2, room));

    // Its next batches: the first window has counted 5 of 5 and the second 5 of 5 — no room anywhere.
    const caps: number[] = [];
    for (const at of [800, 900]) {
      const status = w.status(at, [0], [1]);
      const again = w.overlap(at, [0], [1], 5);
      caps.push(w.cap(status, 5) + again);
      w.count(status, batch(at, [0], w.cap(status, 5) + again, again));
    }
    expect(caps).toEqual([0, 0]);
  });
});
