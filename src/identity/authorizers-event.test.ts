// Custom authorizers without I/O: credentials, token signatures, the event, the response rules.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AuthenticateRequest } from '../core/index.js';
import {
  authorizerNameOf,
  buildAuthorizerEvent,
  createTokenVerifier,
  findCredential,
  inputOfConnect,
  parseAuthorizerResponse,
  publicKeyProblem,
  type AuthorizerInput,
} from './authorizers-event.js';
import { IdentityError } from './errors.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
/** AWS's recipe: `echo -n TOKEN | openssl dgst -sha256 -sign key.pem | openssl base64`. */
const signToken = (token: string, key = rsa.privateKey): string => sign('sha256', Buffer.from(token), key).toString('base64');

function connect(over: Partial<AuthenticateRequest>): AuthenticateRequest {
  return { clientId: 'dev-1', username: null, password: null, remoteAddress: '10.0.0.7', transport: 'tcp', protocolVersion: 5, peerCertificate: null, httpRequest: null, serverName: null, ...over };
}

describe('where credentials are (custom-auth.html)', () => {
  test('MQTT: the user name query string carries the authorizer name, the signature and the token; values are URL-decoded and a raw + survives', () => {
    const sig = signToken('tok en');
    const input = inputOfConnect(connect({ username: `alice?x-amz-customauthorizer-name=MyAuth&x-amz-customauthorizer-signature=${sig}&tokenKey=tok%20en` }));
    assert.equal(authorizerNameOf(input), 'MyAuth');
    assert.equal(findCredential(input, 'x-amz-customauthorizer-signature'), sig);
    assert.equal(findCredential(input, 'tokenKey'), 'tok en');
    assert.equal(findCredential(input, 'missing'), undefined);
  });

  test('WebSocket: headers (any case) first, then the upgrade URL query, then the CONNECT user name', () => {
    const input = inputOfConnect(
      connect({
        transport: 'ws',
        username: 'u?tokenKey=from-username&other=u',
        httpRequest: { url: '/mqtt?tokenKey=from-query&x-amz-customauthorizer-name=QueryAuth', headers: { 'x-amz-customauthorizer-name': 'HeaderAuth', tokenkey: 'from-header', host: 'h' } },
      }),
    );
    assert.equal(authorizerNameOf(input), 'HeaderAuth');
    assert.equal(findCredential(input, 'tokenKey'), 'from-header');
    assert.equal(findCredential(input, 'other'), 'u');
    const noHeader = inputOfConnect(connect({ transport: 'ws', username: 'u?tokenKey=from-username', httpRequest: { url: '/mqtt?tokenKey=from-query', headers: {} } }));
    assert.equal(findCredential(noHeader, 'tokenKey'), 'from-query');
  });

  test('AWS device SDK metrics user names name no authorizer', () => {
    assert.equal(authorizerNameOf(inputOfConnect(connect({ username: '?SDK=JavaScript&Version=2.2.0&Platform=Linux 5.15 x64' }))), null);
    assert.equal(authorizerNameOf(inputOfConnect(connect({ username: 'plain' }))), null);
  });
});

describe('token signatures (RSA SHA-256, base64)', () => {
  const verify = createTokenVerifier();

  test('a signature made as AWS documents verifies with the authorizer public key; a changed token or another key does not', () => {
    assert.equal(verify('allow-me', signToken('allow-me'), { k1: publicPem }), true);
    assert.equal(verify('allow-you', signToken('allow-me'), { k1: publicPem }), false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.equal(verify('allow-me', signToken('allow-me', other.privateKey), { k1: publicPem }), false);
  });

  test('any of several keys verifies (key rotation); a signature form-decoded into spaces is repaired; garbage is false, never a throw', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keys = { old: other.publicKey.export({ type: 'spki', format: 'pem' }).toString(), current: publicPem };
    // RSA PKCS#1 v1.5 is deterministic: find a token whose signature has a + in it.
    let n = 0;
    while (!signToken(`t${n}`).includes('+')) n++;
    const sig = signToken(`t${n}`);
    assert.equal(verify(`t${n}`, sig, keys), true);
    assert.equal(verify(`t${n}`, sig.replace(/\+/g, ' '), keys), true);
    assert.equal(verify('t', '!!!', keys), false);
    assert.equal(verify('t', signToken('t'), { broken: 'not a key' }), false);
  });

  test('public keys: RSA of at least 2,048 bits (config-custom-auth.html)', () => {
    assert.equal(publicKeyProblem(publicPem), null);
    assert.match(publicKeyProblem('nope') ?? '', /not a PEM/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.match(publicKeyProblem(small) ?? '', /1024 bits; the minimum is 2048/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.match(publicKeyProblem(ec) ?? '', /RSA/);
  });
});

describe('the event (custom-auth-lambda.html)', () => {
  test('MQTT over TLS: protocols tls and mqtt, the SNI, the user name as sent, the password base64, the client id', () => {
    const input = inputOfConnect(connect({ transport: 'tls', serverName: 'iot.example.com', username: 'u?x=1', password: Buffer.from('secret') }));
    const event = buildAuthorizerEvent(input, 'tok', true, 'conn-1');
    assert.deepEqual(event, {
      token: 'tok',
      signatureVerified: true,
      protocols: ['tls', 'mqtt'],
      protocolData: { tls: { serverName: 'iot.example.com' }, mqtt: { username: 'u?x=1', password: Buffer.from('secret').toString('base64'), clientId: 'dev-1' } },
      connectionMetadata: { id: 'conn-1' },
    });
  });

  test('MQTT over WebSocket: http headers and the query string (with its ?); fields that do not apply are left out', () => {
    const input = inputOfConnect(connect({ transport: 'ws', clientId: '', httpRequest: { url: '/mqtt?a=1&b=2', headers: { host: 'h', 'x-multi': ['1', '2'] } } }));
    const event = buildAuthorizerEvent(input, undefined, false, 'conn-2');
    assert.deepEqual(event, {
      signatureVerified: false,
      protocols: ['http', 'mqtt'],
      protocolData: { http: { headers: { host: 'h', 'x-multi': '1,2' }, queryString: '?a=1&b=2' }, mqtt: {} },
      connectionMetadata: { id: 'conn-2' },
    });
  });

  test('TestInvokeAuthorizer-style input: only the contexts given appear', () => {
    const input: AuthorizerInput = { tls: null, http: { headers: { k: 'v' } }, mqtt: null };
    assert.deepEqual(buildAuthorizerEvent(input, 't', false, 'x').protocols, ['http']);
  });
});

describe('the response (custom-auth-lambda.html)', () => {
  const limits = { minTtlSeconds: 300 };
  const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] };
  const invalid = (raw: unknown, re: RegExp): void =>
    assert.throws(() => parseAuthorizerResponse(raw, limits), (e: unknown) => e instanceof IdentityError && e.code === 'authorizer.invalid_response' && re.test(e.message));

  test('policy documents as JSON text or objects are compiled; TTLs within 300..86400 are kept', () => {
    const d = parseAuthorizerResponse({ isAuthenticated: true, principalId: 'Abc123', policyDocuments: [JSON.stringify(policy), policy], disconnectAfterInSeconds: 300, refreshAfterInSeconds: 86_400 }, limits);
    assert.equal(d.principalId, 'Abc123');
    assert.equal(d.policies.length, 2);
    assert.deepEqual(d.policyDocuments, [JSON.stringify(policy), JSON.stringify(policy)]);
    assert.equal(d.disconnectAfterInSeconds, 300);
    assert.equal(d.refreshAfterInSeconds, 86_400);
  });

  test('isAuthenticated false: the rest is ignored', () => {
    assert.deepEqual(parseAuthorizerResponse({ isAuthenticated: false, principalId: '!!', policyDocuments: 7 }, limits), { isAuthenticated: false, policyDocuments: [], policies: [] });
  });

  test('principalId is [a-zA-Z0-9]{1,128}; at most 10 documents; each a valid policy; TTLs whole seconds in range', () => {
    invalid(null, /JSON object/);
    invalid({ isAuthenticated: 'yes' }, /isAuthenticated/);
    invalid({ isAuthenticated: true, principalId: 'has-dash' }, /principalId/);
    invalid({ isAuthenticated: true, principalId: 'a'.repeat(129) }, /principalId/);
    invalid({ isAuthenticated: true, principalId: 'p', policyDocuments: Array(11).fill(policy) }, /11 documents; the limit is 10/);
    invalid({ isAuthenticated: true, principalId: 'p', policyDocuments: ['{"Statement": 1}'] }, /policyDocuments\[0\]/);
    invalid({ isAuthenticated: true, principalId: 'p', policyDocuments: [42] }, /policyDocuments\[0\]/);
    invalid({ isAuthenticated: true, principalId: 'p', disconnectAfterInSeconds: 299 }, /disconnectAfterInSeconds must be a whole number of seconds from 300 to 86400/);
    invalid({ isAuthenticated: true, principalId: 'p', refreshAfterInSeconds: 86_401 }, /refreshAfterInSeconds/);
    invalid({ isAuthenticated: true, principalId: 'p', refreshAfterInSeconds: 300.5 }, /refreshAfterInSeconds/);
    assert.equal(parseAuthorizerResponse({ isAuthenticated: true, principalId: 'p', disconnectAfterInSeconds: 1 }, { minTtlSeconds: 1 }).disconnectAfterInSeconds, 1);
  });
});
