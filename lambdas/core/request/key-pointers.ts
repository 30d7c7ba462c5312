import { BoundedMap } from '../model/bounded-map.ts';
import { isKeyPointer, keyAccepted, type StoredSession } from '../store/item.ts';
import type { SessionStore } from '../store/store.ts';
import type { Identity } from './identify.ts';
import type { SettingsMemory } from './settings-memory.ts';

/**
 * Rotated-in keys' partition keys → the session each uses, as one instance remembers them
 * (pointers are written once, with the rotation, and never change), bounded like the
 * remembered settings.
 */
export class KeyPointers {
  readonly #store: SessionStore;
  readonly #memory: SettingsMemory;
  readonly #pointers: BoundedMap<string, string>;

  constructor(store: SessionStore, memory: SettingsMemory, max: number) {
    this.#store = store;
    this.#memory = memory;
    this.#pointers = new BoundedMap(max);
  }

  /**
   * Where an API key's session lives: its own partition key, or — for a key made by a
   * rotation — the session its pointer names. Pointers never change, so this instance
   * remembers them; finding one costs a read that the request needed anyway.
   */
  async follow(identity: Identity): Promise<{ who: Identity; read: StoredSession | undefined | 'unread' }> {
    if (identity.presentedKeyId === undefined || identity.written !== undefined) return { who: identity, read: 'unread' };
    const known = this.#pointers.get(identity.pk);
    if (known !== undefined) return { who: { ...identity, pk: known, pointerPk: identity.pk }, read: 'unread' };
    if (this.#memory.get(identity.pk) !== undefined) return { who: identity, read: 'unread' };
    const item = await this.#store.get(identity.pk);
    if (!isKeyPointer(item)) return { who: identity, read: item };
    this.#pointers.set(identity.pk, item.sessionPk);
    return { who: { ...identity, pk: item.sessionPk, pointerPk: identity.pk }, read: await this.#store.get(item.sessionPk) };
  }

  /**
   * Whether the session `item` (as read now) takes the key `who` presented. One reached through
   * a remembered pointer that is gone or no longer takes the key: the pointer may have ended
   * since (a later rotation, a delete; the raw key imported again as a key of its own), so the
   * key is read once without it. Answers whom and what to go on with, or `'refused'`: a key rotated out, or never this
   * session's. No hook runs and nothing is counted for a refused key.
   */
  async taken(
    who: Identity,
    item: StoredSession | undefined,
    now: number,
  ): Promise<{ who: Identity; item: StoredSession | undefined } | 'refused'> {
    const presented = who.presentedKeyId;
    if (presented === undefined || (item !== undefined && keyAccepted(item, presented, now))) return { who, item };
    if (who.pointerPk === undefined) return item === undefined ? { who, item } : 'refused';
    const again = await this.reread({ ...who, pointerPk: who.pointerPk });
    return again.item === undefined || keyAccepted(again.item, presented, now) ? again : 'refused';
  }

  /**
   * The session `who`'s pointer named is gone: the key's own item may be another session now
   * (deleted, then imported again). Forgets the pointer and reads the key once, without it:
   * the identity as it is now, and its session (a consistent read; `undefined`: none).
   */
  async reread(who: Identity & { readonly pointerPk: string }): Promise<{ who: Identity; item: StoredSession | undefined }> {
    this.#pointers.delete(who.pointerPk);
    const own = await this.#store.get(who.pointerPk);
    if (!isKeyPointer(own)) return { who: { ...who, pk: who.pointerPk, pointerPk: undefined }, item: own };
    return { who: { ...who, pk: own.sessionPk, pointerPk: undefined }, item: await this.#store.get(own.sessionPk) };
  }
}
