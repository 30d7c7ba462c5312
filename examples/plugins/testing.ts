/**
 * Plain objects for unit-testing a plugin's hooks without DynamoDB or a gateway: a
 * request, a session, and hook contexts whose `updateSession` and `sessions` work on
 * memory and record what the hook wrote.
 *
 * @example
 * const ctx = sessionContext({ session: testSession({ expires: NOW - 1 }), now: NOW });
 * await plugin.postAuth(ctx);
 * expect(ctx.updates).toEqual([{ expires: NOW + 60 }]);
 */
import type {
  HookContext,
  Log,
  PluginRequest,
  Session,
  SessionHookContext,
  SessionInit,
  SessionPatch,
} from '../../lambdas/core/plugins/plugin.ts';

export const NOW = 1_750_000_000;

export function testRequest(overrides: Partial<PluginRequest> = {}): PluginRequest {
  return { method: 'GET', path: '/pets', headers: {}, query: {}, sourceIp: '198.18.0.7', apiId: 'api1', stage: 'prod', ...overrides };
}

/** A session with no limits that never expires, field by field overridable. */
export function testSession(overrides: Partial<Session> = {}): Session {
  return {
    keyId: 'a'.repeat(64),
    expires: 0,
    quotaMax: -1,
    quotaRemaining: -1,
    quotaRenewalRate: 0,
    quotaRenews: 0,
    rate: 0,
    per: 0,
    accessRights: {},
    applyPolicies: [],
    metaData: {},
    tags: [],
    isInactive: false,
    createdAt: NOW - 3600,
    updatedAt: NOW - 3600,
    version: 1,
    ...overrides,
  };
}

export interface RecordingLog extends Log {
  readonly lines: { level: string; message: string; extra: Record<string, unknown> }[];
}

export function recordingLog(): RecordingLog {
  const lines: RecordingLog['lines'] = [];
  const at =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push({ level, message, extra: Object.assign({}, ...extra) });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface TestContext extends HookContext {
  readonly log: RecordingLog;
  /** Sessions by raw key, as `sessions.get` / `sessions.set` see them. */
  readonly stored: Map<string, Session>;
}

export function hookContext(options: { request?: Partial<PluginRequest>; now?: number; stored?: Map<string, Session> } = {}): TestContext {
  const stored = options.stored ?? new Map<string, Session>();
  const now = options.now ?? NOW;
  return {
    request: testRequest(options.request),
    now,
    signal: new AbortController().signal,
    log: recordingLog(),
    stored,
    sessions: {
      get: async (key) => stored.get(key),
      set: async (key, init: SessionInit) => {
        const fields = init as Partial<Session>;
        // A session read and saved back (it names its version) is written only at that version, as gatepass does
        // (a key not in `stored` is taken as the request's own, at the version given).
        const found = stored.get(key)?.version;
        if (fields.version !== undefined && found !== undefined && found !== fields.version)
          throw new Error(`session changed concurrently (expected version ${fields.version}, found ${found})`);
        const session = testSession({
          ...fields,
          quotaRemaining: fields.quotaRemaining ?? fields.quotaMax ?? -1,
          version: (found ?? fields.version ?? 0) + 1,
        });
        stored.set(key, session);
        return session;
      },
    },
  };
}

export interface TestSessionContext extends SessionHookContext {
  readonly log: RecordingLog;
  readonly stored: Map<string, Session>;
  /** Every patch given to `updateSession`, in order. */
  readonly updates: SessionPatch[];
  /** The session as last written (what gatepass would check the request against). */
  readonly current: () => Session;
}

export function sessionContext(options: { session?: Session; request?: Partial<PluginRequest>; now?: number } = {}): TestSessionContext {
  let session = options.session ?? testSession();
  const updates: SessionPatch[] = [];
  return {
    ...hookContext(options),
    session,
    updates,
    current: () => session,
    updateSession: async (patch) => {
      updates.push(patch);
      session = { ...session, ...(patch as Partial<Session>), version: session.version + 1 };
      return session;
    },
  };
}
