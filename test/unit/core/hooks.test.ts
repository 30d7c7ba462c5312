import { afterEach, describe, expect, it, vi } from 'vitest';
import { RESERVED_CONTEXT } from '../../../lambdas/core/request/decision.ts';
import { AlreadyExistsError, NotFoundError, PluginError, VersionConflictError } from '../../../lambdas/core/model/errors.ts';
import { sanitizeMessage } from '../../../lambdas/core/plugins/hook-answers.ts';
import { HookRunner } from '../../../lambdas/core/plugins/hooks.ts';
import { keyIdOf, keySessionPk } from '../../../lambdas/core/model/keys.ts';
import type { Log } from '../../../lambdas/core/model/log.ts';
import type { GatepassPlugin, PluginRequest, Session } from '../../../lambdas/core/plugins/plugin.ts';
import type { SessionStore } from '../../../lambdas/core/store/store.ts';
import { SessionService } from '../../../lambdas/core/session/service.ts';
import { storedSession } from '../../support/fixtures.ts';
import type { CounterSet, SettingsChanges, StoredSession } from '../../../lambdas/core/store/item.ts';

const NOW = 1_750_000_000;
const KEY = 'gp_hooks-test-key-0123456789abcdef';
const PK = keySessionPk(keyIdOf(KEY));

const REQUEST: PluginRequest = {
  method: 'GET',
  path: '/pets',
  headers: { 'x-trace': 'abc' },
  query: {},
  sourceIp: '198.18.0.7',
  apiId: 'api1',
  stage: 'prod',
};

/** The request's key, with a quota of 100 (nothing used), created 100 s ago. */
function stored(overrides: Partial<StoredSession> = {}): StoredSession {
  return storedSession({
    keyId: keyIdOf(KEY),
    quotaMax: 100,
    quotaStart: NOW * 1000,
    createdAt: NOW - 100,
    updatedAt: NOW - 100,
    ...overrides,
  });
}

/**
 * The part of `SessionStore` the runner uses, on memory, with its semantics: versioned
 * conditional updates that fail with the current item, creates that fail when present.
 * `beforeUpdate` lets a test play a concurrent writer.
 */
class MemoryStore {
  readonly items = new Map<string, StoredSession>();
  readonly writes: { pk: string; changes: Record<string, unknown>; expectedVersion: number | undefined }[] = [];
  beforeUpdate: (pk: string) => void = () => undefined;
  beforeCreate: (pk: string) => void = () => undefined;

  async get(pk: string): Promise<StoredSession | undefined> {
    return this.items.get(pk);
  }

  async create(pk: string, keyId: string, settings: object, counters: CounterSet, now: number): Promise<StoredSession> {
    this.beforeCreate(pk);
    if (this.items.has(pk)) throw new AlreadyExistsError('a session already exists for this key', this.items.get(pk));
    const item = { ...settings, ...counters, pk, keyId, createdAt: now, updatedAt: now, version: 1 } as StoredSession;
    this.items.set(pk, item);
    return item;
  }

  async change(
    pk: string,
    guard: { version?: number },
    change: { settings?: SettingsChanges; counters?: CounterSet },
    now: number,
  ): Promise<boolean> {
    const expectedVersion = guard.version;
    this.beforeUpdate(pk);
    const changes = { ...change.settings, ...change.counters };
    this.writes.push({ pk, changes, expectedVersion });
    const current = this.items.get(pk);
    if (current === undefined) throw new NotFoundError('no session for this key');
    if (expectedVersion !== undefined && current.version !== expectedVersion) {
      throw new VersionConflictError('session changed concurrently', current);
    }
    // A change that names nothing writes nothing.
    if (Object.values(changes).every((value) => value === undefined)) return false;
    const item = { ...current, ...changes, updatedAt: now, version: current.version + 1 } as StoredSession;
    for (const [field, value] of Object.entries(changes)) if (value === null) delete (item as unknown as Record<string, unknown>)[field];
    this.items.set(pk, item);
    return true;
  }
}

function recordingLog() {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push({ level, message, extra: Object.assign({}, ...extra) });
    };
  const log: Log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

function runner(plugins: GatepassPlugin[], options: { store?: MemoryStore; session?: StoredSession; timeoutMs?: number } = {}) {
  const store = options.store ?? new MemoryStore();
  const { log, lines } = recordingLog();
  // The session service only calls get/create/change on its store; MemoryStore implements those with the store's semantics.
  const hooks = new HookRunner({
    plugins,
    sessions: new SessionService(store as unknown as SessionStore),
    log,
    timeoutMs: options.timeoutMs ?? 1000,
    request: REQUEST,
    nowMs: NOW * 1000,
  });
  if (options.session) {
    store.items.set(options.session.pk, options.session);
    hooks.state.pk = options.session.pk;
    hooks.state.session = options.session;
  }
  return { hooks, store, lines };
}

/** Asserts a PluginError for `plugin` whose message matches `message`. */
async function expectPluginError(promise: Promise<unknown>, plugin: string, message: RegExp): Promise<PluginError> {
  const error = await promise.then(
    () => expect.unreachable('expected a PluginError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PluginError);
  expect(error).toMatchObject({ code: 'ERR_PLUGIN', plugin });
  expect((error as PluginError).message).toMatch(message);
  return error as PluginError;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HookRunner', () => {
  describe('order', () => {
    it('runs each hook kind in the order of the plugins list, skipping plugins without it', async () => {
      const calls: string[] = [];
      const plugin = (name: string, hooks: (keyof GatepassPlugin)[]): GatepassPlugin => {
        const p: Record<string, unknown> = { name };
        for (const hook of hooks) p[hook] = () => void calls.push(`${hook}:${name}`);
        return p as unknown as GatepassPlugin;
      };
      const { hooks } = runner(
        [plugin('first', ['pre', 'post']), plugin('second', ['postAuth']), plugin('third', ['pre', 'postAuth', 'post'])],
        { session: stored() },
      );

      await hooks.pre();
      await hooks.postAuth();
      await hooks.post({}, RESERVED_CONTEXT);

      expect(calls).toEqual(['pre:first', 'pre:third', 'postAuth:second', 'postAuth:third', 'post:first', 'post:third']);
    });

    it('stops at the first denial: later plugins do not run', async () => {
      const later = vi.fn();
      const { hooks } = runner([
        { name: 'a', pre: () => undefined },
        { name: 'b', pre: () => ({ deny: { message: 'no' } }) },
        { name: 'c', pre: later },
      ]);

      expect(await hooks.pre()).toEqual({ reason: 'plugin_denied', message: 'no' });
      expect(later).not.toHaveBeenCalled();
    });

    it("gives every hook the request, the request time and a log tagged with the plugin's name", async () => {
      let seen: { request: PluginRequest; now: number } | undefined;
      const { hooks, lines } = runner([
        {
          name: 'looker',
          pre(ctx) {
            seen = { request: ctx.request, now: ctx.now };
            ctx.log.info('hello', { n: 1 });
          },
        },
      ]);

      await hooks.pre();

      expect(seen).toEqual({ request: REQUEST, now: NOW });
      expect(lines).toEqual([{ level: 'info', message: 'hello', extra: { plugin: 'looker', n: 1 } }]);
    });
  });

  describe('faults', () => {
    it('turns a hook that throws into a PluginError naming the plugin, logged, with the cause kept', async () => {
      const boom = new Error('kaboom');
      const { hooks, lines } = runner([
        {
          name: 'exploder',
          pre: () => {
            throw boom;
          },
        },
      ]);

      const error = await expectPluginError(hooks.pre(), 'exploder', /^plugin exploder: pre hook threw: kaboom$/);

      expect(error.cause).toBe(boom);
      expect(lines).toContainEqual({
        level: 'error',
        message: 'plugin failed: failing closed',
        extra: { plugin: 'exploder', error: 'pre hook threw: kaboom' },
      });
    });

    it('turns a rejected promise or a thrown non-Error into a PluginError too', async () => {
      const rejects = runner([{ name: 'rejects', pre: () => Promise.reject(new Error('nope')) }]);
      const throwsString = runner(
        [
          {
            name: 'strings',
            post: () => {
              throw 'just a string';
            },
          },
        ],
        { session: stored() },
      );

      await expectPluginError(rejects.hooks.pre(), 'rejects', /pre hook threw: nope/);
      await expectPluginError(throwsString.hooks.post({}, RESERVED_CONTEXT), 'strings', /post hook threw: just a string/);
    });

    it('fails a hook that runs past its time budget with a PluginError naming the plugin', async () => {
      vi.useFakeTimers();
      const { hooks, lines } = runner([{ name: 'sloth', postAuth: () => new Promise<never>(() => undefined) }], {
        session: stored(),
        timeoutMs: 250,
      });

      const outcome = expectPluginError(hooks.postAuth(), 'sloth', /^plugin sloth: postAuth hook ran past 250 ms$/);
      await vi.advanceTimersByTimeAsync(250);
      await outcome;

      expect(lines.filter((l) => l.level === 'error').map((l) => l.extra.plugin)).toEqual(['sloth']);
    });

    it('refuses the writes of a hook that keeps running past its deadline, and aborts its signal', async () => {
      vi.useFakeTimers();
      let late: Promise<unknown> | undefined;
      let signal: AbortSignal | undefined;
      const lateWriter: GatepassPlugin = {
        name: 'late-writer',
        postAuth: (ctx) => {
          signal = ctx.signal;
          // Keeps going in the background and writes after the request was failed closed.
          late = new Promise((resolve) => setTimeout(resolve, 500)).then(() => ctx.updateSession({ expires: NOW + 3600 }));
          return late.then(() => undefined);
        },
      };
      const { hooks, store } = runner([lateWriter], { session: stored(), timeoutMs: 250 });

      const outcome = expectPluginError(hooks.postAuth(), 'late-writer', /ran past 250 ms/);
      await vi.advanceTimersByTimeAsync(250);
      await outcome;
      expect(signal!.aborted).toBe(true);
      await vi.advanceTimersByTimeAsync(300);

      await expect(late).rejects.toThrow(/write refused/);
      expect(store.writes).toEqual([]);
      expect(store.items.get(PK)!.expires).toBe(0);
    });

    it('refuses a write a hook makes after it has answered', async () => {
      let keep: (() => Promise<unknown>) | undefined;
      const { hooks, store } = runner([{ name: 'leaky', postAuth: (ctx) => void (keep = () => ctx.updateSession({ expires: NOW + 1 })) }], {
        session: stored(),
      });
      await hooks.postAuth();
      await expect(keep!()).rejects.toThrow(/write refused/);
      expect(store.writes).toEqual([]);
    });

    it('does not fail a hook that answers within its budget', async () => {
      vi.useFakeTimers();
      const { hooks } = runner([{ name: 'quick', pre: () => new Promise<void>((resolve) => setTimeout(resolve, 249)) }], {
        timeoutMs: 250,
      });

      const outcome = hooks.pre();
      await vi.advanceTimersByTimeAsync(300);

      await expect(outcome).resolves.toBeUndefined();
    });
  });

  describe('denials', () => {
    it('keeps a snake_case reason and defaults to plugin_denied', async () => {
      const own = runner([{ name: 'a', pre: () => ({ deny: { reason: 'ip_denied', message: 'Go away' } }) }]);
      const none = runner([{ name: 'b', pre: () => ({ deny: { message: 'Go away' } }) }]);

      expect(await own.hooks.pre()).toEqual({ reason: 'ip_denied', message: 'Go away' });
      expect(await none.hooks.pre()).toEqual({ reason: 'plugin_denied', message: 'Go away' });
    });

    it.each([['Not-Snake'], ['has space'], ['_leading'], ['9lives'], ['x'.repeat(65)], [42], ['']])(
      'treats the invalid reason %j as a fault, not a denial',
      async (reason) => {
        const { hooks } = runner([{ name: 'bad-reason', pre: () => ({ deny: { reason, message: 'no' } }) as never }]);

        await expectPluginError(hooks.pre(), 'bad-reason', /deny reason must be snake_case/);
      },
    );

    it.each([[{ deny: {} }], [{ deny: { message: 42 } }], [{ deny: null }], [{ deny: 'no' }]])(
      'treats the malformed denial %j as a fault',
      async (answer) => {
        const { hooks } = runner([{ name: 'bad-deny', pre: () => answer as never }]);

        await expectPluginError(hooks.pre(), 'bad-deny', /deny must be/);
      },
    );

    it('removes quotes, backslashes and control characters from the message (it goes into a JSON template)', async () => {
      const { hooks } = runner([{ name: 'a', pre: () => ({ deny: { message: 'Say "no" \\ to\nline\tbreaks\u0000\u001b\u007f!' } }) }]);

      expect(await hooks.pre()).toEqual({ reason: 'plugin_denied', message: 'Say no  tolinebreaks!' });
    });

    it('keeps at most 256 characters of a message, and every printable one', () => {
      expect(sanitizeMessage('é'.repeat(300))).toBe('é'.repeat(256));
      expect(sanitizeMessage("It's {ok} <b>&</b> /path?x=1")).toBe("It's {ok} <b>&</b> /path?x=1");
    });

    it('lets a postAuth hook deny, with the session it saw', async () => {
      const { hooks } = runner(
        [
          {
            name: 'gold-only',
            postAuth: (ctx) =>
              ctx.session.tags.includes('gold') ? undefined : { deny: { reason: 'not_gold', message: 'Gold plan only' } },
          },
        ],
        { session: stored({ tags: ['silver'] }) },
      );

      expect(await hooks.postAuth()).toEqual({ reason: 'not_gold', message: 'Gold plan only' });
    });
  });

  describe('auth', () => {
    it('asks the first plugin with an auth hook for the key', async () => {
      const second = vi.fn();
      const { hooks } = runner([
        { name: 'no-auth', pre: () => undefined },
        { name: 'first', auth: () => ({ key: KEY }) },
        { name: 'second', auth: second },
      ]);

      expect(hooks.hasAuth).toBe(true);
      expect(await hooks.auth()).toEqual({ key: KEY });
      expect(second).not.toHaveBeenCalled();
    });

    it('has no auth without a plugin that has the hook', () => {
      expect(runner([{ name: 'a', pre: () => undefined }]).hooks.hasAuth).toBe(false);
    });

    it('creates the session the hook gives, with the defaults of a new session, and returns it as written', async () => {
      const { hooks, store } = runner([
        { name: 'creator', auth: (ctx) => ({ key: KEY, session: { expires: ctx.now + 60, quotaMax: 1000, quotaRenewalRate: 60 } }) },
      ]);

      const result = await hooks.auth();

      expect(result).toMatchObject({
        key: KEY,
        session: { pk: PK, expires: NOW + 60, quotaMax: 1000, quotaUsed: 0, quotaStart: NOW * 1000, version: 1 },
      });
      expect(store.items.get(PK)).toEqual((result as { session: StoredSession }).session);
    });

    it('replaces an existing session with a write conditional on its version', async () => {
      const { hooks, store } = runner([{ name: 'replacer', auth: () => ({ key: KEY, session: { quotaMax: 5 } }) }]);
      store.items.set(PK, stored({ version: 7, quotaMax: 100 }));

      const result = await hooks.auth();

      expect(result).toMatchObject({ session: { quotaMax: 5, quotaUsed: 0, version: 8 } });
      expect(store.writes).toMatchObject([{ pk: PK, expectedVersion: 7 }]);
    });

    it('creates the session of createSession when there is none', async () => {
      const { hooks, store } = runner([
        { name: 'first-sight', auth: () => ({ key: KEY, createSession: { quotaMax: 1000, expires: NOW + 60 } }) },
      ]);

      const result = await hooks.auth();

      expect(result).toMatchObject({ key: KEY, session: { pk: PK, quotaMax: 1000, quotaUsed: 0, version: 1 } });
      expect(store.items.get(PK)).toMatchObject({ quotaUsed: 0 });
    });

    it('leaves an existing session alone on createSession: no write, its counters kept', async () => {
      const { hooks, store } = runner([{ name: 'first-sight', auth: () => ({ key: KEY, createSession: { quotaMax: 1000 } }) }]);
      store.items.set(PK, stored({ quotaMax: 1000, quotaUsed: 983, version: 3 }));

      const result = await hooks.auth();

      expect(result).toMatchObject({ session: { quotaUsed: 983, version: 3 } });
      expect(store.writes).toEqual([]);
    });

    it('uses the session a concurrent first request created between the read and the create', async () => {
      const { hooks, store } = runner([{ name: 'first-sight', auth: () => ({ key: KEY, createSession: { quotaMax: 1000 } }) }]);
      store.beforeCreate = (pk) => {
        if (!store.items.has(pk)) store.items.set(pk, stored({ quotaMax: 1000, quotaUsed: 1, version: 1 }));
      };

      const result = await hooks.auth();

      expect(result).toMatchObject({ session: { quotaUsed: 1, version: 1 } });
    });

    it('treats an answer with both session and createSession as a fault', async () => {
      const { hooks, store } = runner([
        { name: 'undecided', auth: () => ({ key: KEY, session: { quotaMax: 1 }, createSession: { quotaMax: 2 } }) },
      ]);

      await expectPluginError(hooks.auth(), 'undecided', /session or createSession/);
      expect(store.items.size).toBe(0);
    });

    it('treats an invalid createSession as a fault naming the bad field', async () => {
      const { hooks } = runner([{ name: 'sloppy', auth: () => ({ key: KEY, createSession: { expires: -5 } }) }]);

      await expectPluginError(hooks.auth(), 'sloppy', /invalid session: .*expires/);
    });

    it.each([[{}], [{ key: '' }], [{ key: 42 }], [undefined], ['a-key']])('treats the answer %j as a fault', async (answer) => {
      const { hooks } = runner([{ name: 'vague', auth: () => answer as never }]);

      await expectPluginError(hooks.auth(), 'vague', /auth must answer/);
    });

    it('treats an invalid session as a fault naming the bad fields, and writes nothing', async () => {
      const { hooks, store } = runner([{ name: 'sloppy', auth: () => ({ key: KEY, session: { quotaMax: 'lots', bogus: 1 } as never }) }]);

      await expectPluginError(hooks.auth(), 'sloppy', /invalid session: .*quotaMax.*bogus/);
      expect(store.items.size).toBe(0);
    });

    it('passes a denial on', async () => {
      const { hooks } = runner([{ name: 'gate', auth: () => ({ deny: { reason: 'missing_token', message: 'Auth token missing' } }) }]);

      expect(await hooks.auth()).toEqual({ reason: 'missing_token', message: 'Auth token missing' });
    });
  });

  describe('postAuth and read-your-writes', () => {
    it('writes updateSession conditionally on the version read, and the request continues with the item as written', async () => {
      const { hooks, store } = runner([{ name: 'renew', postAuth: (ctx) => void ctx.updateSession({ expires: ctx.now + 60 }) }], {
        session: stored({ expires: NOW - 10, version: 4 }),
      });

      await hooks.postAuth();

      expect(store.writes).toEqual([{ pk: PK, changes: { expires: NOW + 60 }, expectedVersion: 4 }]);
      expect(hooks.state.session).toMatchObject({ expires: NOW + 60, version: 5 });
    });

    it('gives each later plugin the session as last written, without storage details', async () => {
      const seen: Session[] = [];
      const { hooks } = runner(
        [
          { name: 'renew', postAuth: async (ctx) => void (await ctx.updateSession({ expires: ctx.now + 60 })) },
          { name: 'look', postAuth: (ctx) => void seen.push(ctx.session) },
        ],
        { session: stored({ expires: NOW - 10 }) },
      );

      await hooks.postAuth();

      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ expires: NOW + 60, version: 2 });
      expect(seen[0]).not.toHaveProperty('pk');
    });

    it('runs a hook again on the fresh session when a concurrent request wrote first: the renewal happens once', async () => {
      const store = new MemoryStore();
      const seen: number[] = [];
      let raced = false;
      store.beforeUpdate = (pk) => {
        if (raced) return;
        raced = true; // another request renews between this request's read and its write
        const current = store.items.get(pk)!;
        store.items.set(pk, { ...current, expires: NOW + 60, version: current.version + 1 });
      };
      const { hooks } = runner(
        [
          {
            name: 'renew',
            async postAuth(ctx) {
              seen.push(ctx.session.expires);
              if (ctx.session.expires <= ctx.now) await ctx.updateSession({ expires: ctx.now + 60 });
            },
          },
        ],
        { store, session: stored({ expires: NOW - 10, version: 1 }) },
      );

      await hooks.postAuth();

      expect(seen).toEqual([NOW - 10, NOW + 60]);
      expect(store.writes).toHaveLength(1);
      expect(hooks.state.session).toMatchObject({ expires: NOW + 60, version: 2 });
    });

    it('fails closed after losing 8 writes in a row', async () => {
      const store = new MemoryStore();
      store.beforeUpdate = (pk) => {
        const current = store.items.get(pk)!;
        store.items.set(pk, { ...current, version: current.version + 1 });
      };
      const hook = vi.fn(
        async (ctx: { updateSession: (p: SettingsChanges) => Promise<unknown> }) => void (await ctx.updateSession({ tags: ['x'] })),
      );
      const { hooks } = runner([{ name: 'unlucky', postAuth: hook }], { store, session: stored() });

      await expectPluginError(hooks.postAuth(), 'unlucky', /lost 8 writes in a row/);
      expect(hook).toHaveBeenCalledTimes(8);
    });

    it.each([
      [{ expires: -1 }, /expires/],
      [{ quotaMax: 'lots' }, /quotaMax/],
      [{ bogus: true }, /bogus/],
    ])('treats the invalid patch %j as a fault and writes nothing', async (patch, field) => {
      const { hooks, store } = runner([{ name: 'sloppy', postAuth: async (ctx) => void (await ctx.updateSession(patch as never)) }], {
        session: stored(),
      });

      await expectPluginError(hooks.postAuth(), 'sloppy', field);
      expect(store.writes).toEqual([]);
    });

    it('ignores read-only fields in a patch (keyId, version, createdAt, updatedAt)', async () => {
      const { hooks, store } = runner(
        [
          {
            name: 'echo',
            postAuth: async (ctx) =>
              void (await ctx.updateSession({ ...ctx.session, keyId: 'forged', version: 99, alias: 'renamed' } as never)),
          },
        ],
        { session: stored({ version: 3 }) },
      );

      await hooks.postAuth();

      expect(store.writes[0]!.changes).not.toHaveProperty('keyId');
      expect(store.writes[0]!.changes).not.toHaveProperty('version');
      expect(hooks.state.session).toMatchObject({ keyId: keyIdOf(KEY), version: 4, alias: 'renamed' });
    });

    it("makes sessions.set on the request's own key the session the request continues with", async () => {
      const { hooks } = runner(
        [{ name: 'setter', postAuth: async (ctx) => void (await ctx.sessions.set(KEY, { quotaMax: 3, expires: ctx.now + 60 })) }],
        { session: stored({ version: 2 }) },
      );

      await hooks.postAuth();

      expect(hooks.state.session).toMatchObject({ quotaMax: 3, quotaUsed: 0, expires: NOW + 60, version: 3 });
    });

    describe('sessions.set of a session read (it names its version)', () => {
      /** A postAuth hook that saves back the session it read with a later expiry, after `meanwhile` ran (another writer). */
      const saveBack = (meanwhile: () => void = () => undefined, calls: number[] = []): GatepassPlugin => ({
        name: 'save-back',
        async postAuth(ctx) {
          calls.push(ctx.session.version);
          if (ctx.session.expires > ctx.now) return; // renewed: nothing to do
          const seen = ctx.session;
          meanwhile();
          await ctx.sessions.set(KEY, { ...seen, expires: ctx.now + 60 } as never);
        },
      });

      it('renews at the version read when nothing changed meanwhile', async () => {
        const { hooks, store } = runner([saveBack()], { session: stored({ expires: NOW - 10, version: 4 }) });

        await hooks.postAuth();

        expect(store.writes).toMatchObject([{ pk: PK, expectedVersion: 4 }]);
        expect(hooks.state.session).toMatchObject({ expires: NOW + 60, version: 5, quotaMax: 100 });
      });

      it('writes nothing over a change landed since, and runs the chain again on the key as it is now', async () => {
        const store = new MemoryStore();
        const versions: number[] = [];
        let once = false;
        const deactivate = () => {
          if (once) return;
          once = true; // an admin deactivates the key while the hook runs
          const current = store.items.get(PK)!;
          store.items.set(PK, { ...current, isInactive: true, expires: NOW + 3600, version: current.version + 1 });
        };
        const { hooks } = runner([saveBack(deactivate, versions)], { store, session: stored({ expires: NOW - 10, version: 4 }) });

        await hooks.postAuth();

        expect(store.writes).toEqual([]);
        expect(versions).toEqual([4, 5]);
        expect(hooks.state.session).toMatchObject({ isInactive: true, version: 5 });
        expect(store.items.get(PK)).toMatchObject({ isInactive: true, version: 5 });
      });

      it('does not create again a key deleted since: the request finds it gone', async () => {
        const store = new MemoryStore();
        const { hooks } = runner([saveBack(() => store.items.delete(PK))], { store, session: stored({ expires: NOW - 10 }) });

        expect(await hooks.postAuth()).toBe('gone');
        expect(store.items.has(PK)).toBe(false);
      });

      it('fails closed outside postAuth, writing nothing', async () => {
        const store = new MemoryStore();
        const other = 'gp_another-key-of-this-test-000';
        store.items.set(keySessionPk(keyIdOf(other)), stored({ pk: keySessionPk(keyIdOf(other)), keyId: keyIdOf(other), version: 3 }));
        const { hooks } = runner(
          [{ name: 'stale-pre', pre: async (ctx) => void (await ctx.sessions.set(other, { quotaMax: 5, version: 2 } as never)) }],
          { store },
        );

        await expectPluginError(hooks.pre(), 'stale-pre', /expected version 2, found 3/);
        expect(store.writes).toEqual([]);
      });

      it("refuses an auth hook's session naming a version the key no longer has", async () => {
        const { hooks, store } = runner([{ name: 'auth-back', auth: () => ({ key: KEY, session: { quotaMax: 5, version: 6 } as never }) }]);
        store.items.set(PK, stored({ version: 7 }));

        await expectPluginError(hooks.auth(), 'auth-back', /session write refused.*expected version 6, found 7/);
        expect(store.items.get(PK)).toMatchObject({ quotaMax: 100, version: 7 });
      });

      it('treats a version that is not a whole number as a fault naming it', async () => {
        const { hooks, store } = runner(
          [{ name: 'odd', postAuth: async (ctx) => void (await ctx.sessions.set(KEY, { quotaMax: 5, version: '4' } as never)) }],
          { session: stored({ version: 4 }) },
        );

        await expectPluginError(hooks.postAuth(), 'odd', /invalid session.*version/);
        expect(store.writes).toEqual([]);
      });

      it('creates or replaces as before when the session names no version (another key made by a plugin)', async () => {
        const other = 'gp_made-by-a-plugin-0000000000';
        const { hooks, store } = runner(
          [{ name: 'maker', postAuth: async (ctx) => void (await ctx.sessions.set(other, { quotaMax: 9, quotaRenewalRate: 60 })) }],
          { session: stored() },
        );

        await hooks.postAuth();

        expect(store.items.get(keySessionPk(keyIdOf(other)))).toMatchObject({ quotaMax: 9, version: 1 });
      });
    });

    it('reads sessions by raw key through sessions.get, as public sessions', async () => {
      let got: unknown;
      const { hooks } = runner(
        [
          {
            name: 'getter',
            postAuth: async (ctx) => void (got = [await ctx.sessions.get(KEY), await ctx.sessions.get('gp_nobody-has-this-key-00')]),
          },
        ],
        { session: stored() },
      );

      await hooks.postAuth();

      expect(got).toEqual([expect.objectContaining({ keyId: keyIdOf(KEY), quotaMax: 100 }), undefined]);
      expect((got as object[])[0]).not.toHaveProperty('pk');
    });
  });

  describe('post', () => {
    it('adds the context values of each plugin, later plugins seeing earlier ones', async () => {
      let seenByB: unknown;
      const { hooks } = runner(
        [
          { name: 'a', post: () => ({ context: { region: 'eu', tier: 2 } }) },
          {
            name: 'b',
            post: (ctx) => {
              seenByB = { ...ctx.context };
              return { context: { beta: true } };
            },
          },
          { name: 'c', post: () => undefined },
        ],
        { session: stored() },
      );

      const context = await hooks.post({ keyId: 'k', quotaRemaining: 9 }, RESERVED_CONTEXT);

      expect(seenByB).toEqual({ keyId: 'k', quotaRemaining: 9, region: 'eu', tier: 2 });
      expect(context).toEqual({ keyId: 'k', quotaRemaining: 9, region: 'eu', tier: 2, beta: true });
    });

    it("never replaces gatepass's own context values nor meta_* entries, and warns", async () => {
      const own = Object.fromEntries([...RESERVED_CONTEXT].map((name) => [name, 'forged']));
      const { hooks, lines } = runner([{ name: 'forger', post: () => ({ context: { ...own, meta_plan: 'gold', mine: 'ok' } }) }], {
        session: stored(),
      });

      const context = await hooks.post({ keyId: 'k', quotaRemaining: 9, meta_plan: 'free' }, RESERVED_CONTEXT);

      expect(context).toEqual({ keyId: 'k', quotaRemaining: 9, meta_plan: 'free', mine: 'ok' });
      expect(lines.filter((l) => l.level === 'warn')).toHaveLength(RESERVED_CONTEXT.size + 1);
      expect(lines.find((l) => l.level === 'warn')!.extra).toMatchObject({ plugin: 'forger' });
    });

    it.each([
      ['an object', { nested: { a: 1 } }],
      ['an array', { list: [1] }],
      ['null', { nothing: null }],
      ['a function', { fn: () => 1 }],
      ['a bigint', { big: 10n }],
    ])('treats a context value that is %s as a fault', async (_what, additions) => {
      const { hooks } = runner([{ name: 'odd', post: () => ({ context: additions as never }) }], { session: stored() });

      await expectPluginError(hooks.post({}, RESERVED_CONTEXT), 'odd', /must be a string, number or boolean/);
    });

    it('treats a deny from a post hook as a fault, never as an Allow', async () => {
      const { hooks } = runner([{ name: 'late-denier', post: () => ({ deny: { message: 'too late' } }) as never }], { session: stored() });

      await expectPluginError(hooks.post({ keyId: 'k' }, RESERVED_CONTEXT), 'late-denier', /./);
    });

    it.each([['text'], [[1, 2]], [null]])('treats the context %j as a fault', async (additions) => {
      const { hooks } = runner([{ name: 'odd', post: () => ({ context: additions as never }) }], { session: stored() });

      await expectPluginError(hooks.post({}, RESERVED_CONTEXT), 'odd', /post must answer/);
    });
  });
});
