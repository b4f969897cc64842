/**
 * Access keys for the AWS-compatible HTTP API (SigV4): kept in the database (`identity_access_keys`),
 * created, listed and revoked by `thingport keys` (offline, on the data directory) and looked up by
 * the HTTP router on every request.
 *
 * The admin key is still created by ensureAdminCredentials in `<dataDir>/keys.json` (which the AWS
 * credentials file is written from); it is imported into the database the first time the
 * database is opened after it exists, and looked for again whenever an unknown key id arrives
 * before that (so the order in which the server creates the two does not matter). Revoking it in
 * the database revokes it for good: a later import never reactivates a known key.
 */
import { randomInt } from 'node:crypto';
import type { AccessKeyLookup } from '../http/index.js';
import { readAdminKey } from './admin-key.js';
import { IdentityError } from './errors.js';
import type { AccessKeyRecord, IdentityStore } from './store.js';

/** The principal name of the admin key. */
export const ADMIN_KEY_NAME = 'admin';
const NAME = /^[A-Za-z0-9_.@+=,-]{1,64}$/;
const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const SECRET_ALPHABET = `${UPPER_ALNUM}abcdefghijklmnopqrstuvwxyz`;

export interface AccessKeyService {
  /** The HTTP router's lookup: ACTIVE keys only; principal = the key's name. */
  readonly lookup: AccessKeyLookup;
  /** A new key (the secret is only ever shown here). */
  create(name: string): AccessKeyRecord;
  list(): AccessKeyRecord[];
  /** Revokes; false when the key does not exist or is already revoked. */
  revoke(accessKeyId: string): boolean;
  /** Imports the admin key from keys.json when present; true when it is (now or already) in the database. */
  importAdminKey(): Promise<boolean>;
}

export function createAccessKeyService(deps: { store: IdentityStore; dataDir: string; now: () => number }): AccessKeyService {
  const { store } = deps;
  let adminImported = false;

  const importAdminKey = async (): Promise<boolean> => {
    if (adminImported) return true;
    const admin = await readAdminKey(deps.dataDir);
    if (admin === null) return false;
    store.insertAccessKey({
      accessKeyId: admin.accessKeyId,
      secretAccessKey: admin.secretAccessKey,
      name: ADMIN_KEY_NAME,
      createdAt: deps.now(),
      status: 'ACTIVE',
      revokedAt: null,
    });
    adminImported = true;
    return true;
  };

  const answer = (rec: AccessKeyRecord | null): { secretAccessKey: string; principal: string } | null =>
    rec !== null && rec.status === 'ACTIVE' ? { secretAccessKey: rec.secretAccessKey, principal: rec.name } : null;

  const lookup: AccessKeyLookup = (accessKeyId) => {
    const rec = store.getAccessKey(accessKeyId);
    if (rec !== null || adminImported) return answer(rec);
    // keys.json may have appeared since (first start): import it once, then answer.
    return importAdminKey().then(
      () => answer(store.getAccessKey(accessKeyId)),
      () => null, // a corrupt keys.json is reported at start-up by ensureAdminCredentials
    );
  };

  return {
    lookup,
    importAdminKey,
    create(name) {
      if (!NAME.test(name)) throw new IdentityError('request.invalid', `a key name is 1-64 characters of letters, digits and _.@+=,- (not '${name}')`);
      for (;;) {
        const rec: AccessKeyRecord = {
          accessKeyId: `AKIA${randomString(UPPER_ALNUM, 16)}`,
          secretAccessKey: randomString(SECRET_ALPHABET, 40),
          name,
          createdAt: deps.now(),
          status: 'ACTIVE',
          revokedAt: null,
        };
        if (store.insertAccessKey(rec)) return rec;
      }
    },
    list: () => store.listAccessKeys(),
    revoke: (accessKeyId) => store.revokeAccessKey(accessKeyId, deps.now()),
  };
}

/** Uniformly random characters (randomInt avoids the bias of `byte % alphabet.length`). */
function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
