import { Logger } from '@aws-lambda-powertools/logger';
import { createAdminHandler } from '../../lambdas/admin/handler.ts';
import { startAdminServer, type RunningAdmin } from '../../local/admin-server.ts';
import type { TestTable } from './dynamo.ts';
import { pipelineOn } from './pipeline.ts';

/** The admin API over real HTTP on `table`, logging at INFO (its audit lines, for `captureLogs`). */
export function startAdminOn(table: TestTable): Promise<RunningAdmin> {
  const env = pipelineOn(table.client, table.tableName);
  return startAdminServer({
    handler: createAdminHandler({ config: env.config, client: env.doc, logger: new Logger({ logLevel: 'INFO' }) }),
    port: 0,
  });
}
