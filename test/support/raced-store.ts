import { KeyService } from '../../lambdas/admin/key-service.ts';
import type { WriteGuard } from '../../lambdas/core/store/item.ts';
import { SessionStore, type SessionChange } from '../../lambdas/core/store/store.ts';
import type { TestTable } from './dynamo.ts';
import { pipelineOn } from './pipeline.ts';

/**
 * A store that runs `before` (one armed step per write) just before a change's write: another
 * writer landing between this write's read and its write, every time, deterministically.
 */
export class RacedStore extends SessionStore {
  before: (() => Promise<void>)[] = [];

  override async change(pk: string, guard: WriteGuard, change: SessionChange, now: number): Promise<boolean> {
    await this.before.shift()?.();
    return super.change(pk, guard, change, now);
  }

  override async changeWithPointer(...args: Parameters<SessionStore['changeWithPointer']>): Promise<void> {
    await this.before.shift()?.();
    return super.changeWithPointer(...args);
  }

  override async delete(...args: Parameters<SessionStore['delete']>): Promise<void> {
    await this.before.shift()?.();
    return super.delete(...args);
  }
}

/**
 * On `table`: an instance (`env`: its pipeline, and its key service `other`, the writer that
 * races), and an admin key service whose writes go through a {@link RacedStore} (`raced`).
 */
export function racedAdmin(table: TestTable) {
  const env = pipelineOn(table.client, table.tableName);
  const raced = new RacedStore({ client: env.doc, tableName: table.tableName, retentionSeconds: 0 });
  return { env, raced, admin: new KeyService(raced, () => Math.floor(Date.now() / 1000)), other: env.keys };
}
