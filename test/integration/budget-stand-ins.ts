/**
 * The busy budget the attack27/29 tests run against: the current one, or a past one for
 * comparison runs (`ATK27_OLD=1` or `ATK29_BUDGET=old`: before f464d93; `ATK29_BUDGET=f464`:
 * as f464d93 left it). Each of those tests mocks busy-budget.ts with
 * `vi.mock(path, async (original) => (await import('./budget-stand-ins.ts')).budgetUnderTest(original))`.
 */
export async function budgetUnderTest<T>(original: () => Promise<T>): Promise<unknown> {
  const past = process.env.ATK29_BUDGET ?? (process.env.ATK27_OLD === '1' ? 'old' : undefined);
  if (past === 'f464') return import('./attack29-f464-budget.ts');
  if (past === 'old') return import('./attack27-old-budget.ts');
  return original();
}
