import type { DevServer } from './dev.ts';

/** What `gatepass dev` prints once it is ready: where things are and curl lines to paste. */
export function devBanner(dev: DevServer): string {
  const lines = [
    '',
    'gatepass is running',
    `  gateway    ${dev.gatewayUrl}   (authorizer in front of the echo backend or --upstream)`,
    `  admin API  ${dev.adminUrl}   (GET /health, POST /keys, …)`,
    `  DynamoDB   ${dev.dynamodbEndpoint}   table ${dev.tableName}`,
    '',
  ];
  if (dev.consoleUrl) lines.splice(-1, 0, `  console    ${dev.consoleUrl}   (keys, usage, explain, policies in the browser)`);
  if (dev.dynamodbExposed !== undefined) {
    lines.push(
      `WARNING: DynamoDB Local listens on every interface of this machine (no network namespace: ${dev.dynamodbExposed}):`,
      '  anyone who can reach this machine on that port can read and write the table — and give themselves a key.',
      '',
    );
  }
  if (dev.seeded && 'existing' in dev.seeded) {
    lines.push(
      `Demo key: kept in the data folder from an earlier run (keyId ${dev.seeded.existing.keyId}).`,
      '  Its key was printed when it was created; gatepass keeps only its hash. A new one:',
      `  npx gatepass keys create --admin-url ${dev.adminUrl} --alias me --quota-max 3`,
      '',
    );
  } else if (dev.seeded) {
    const { demo, expired } = dev.seeded;
    lines.push(
      'Demo key (5 requests per 10 s, 100 per hour):',
      `  export KEY=${demo.key}`,
      '',
      (dev.plugins?.length ?? 0) > 0
        ? `Try (the answers noted are gatepass's own; your plugins — ${dev.plugins!.map((entry) => entry.split('/').pop()).join(', ')} — may change them):`
        : 'Try:',
      `  curl -i ${dev.gatewayUrl}/hello -H "Authorization: $KEY"              # 200, echo with the authorizer context`,
      `  curl -i ${dev.gatewayUrl}/hello                                        # 401 missing_credential`,
      `  curl -i ${dev.gatewayUrl}/hello -H "Authorization: gp_nope"            # 403 key_not_found`,
      `  curl -i ${dev.gatewayUrl}/hello -H "Authorization: ${expired.key}"   # 403 session_expired`,
      `  for i in 1 2 3 4 5 6; do curl -s ${dev.gatewayUrl}/hello -H "Authorization: $KEY" -o /dev/null -w "%{http_code}\\n"; done   # 6th: 403 rate_limited`,
      '',
      'Create a key of your own (admin API, or the CLI in another terminal):',
      `  curl -s ${dev.adminUrl}/keys -H 'content-type: application/json' -d '{"alias":"me","quotaMax":3}'`,
      `  npx gatepass keys create --admin-url ${dev.adminUrl} --alias me --quota-max 3`,
      `  npx gatepass keys list --admin-url ${dev.adminUrl}`,
      '',
    );
  }
  lines.push('Ctrl-C stops everything.', '');
  return lines.join('\n');
}
