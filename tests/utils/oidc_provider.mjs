// A real OpenID provider on loopback for the sign-in tests: `oidc-provider` from npm (installed by
// scripts/setup.sh with `npm ci`), started and stopped by tests/utils/oidc.py.
//
//   OIDC_CLIENT_SECRET=... node tests/utils/oidc_provider.mjs --port 54321 --client-id cspr \
//     --redirect-uri http://127.0.0.1:1/sign-in/oidc/callback \
//     --accounts '[{"sub": "...", "email": "...", "email_verified": true, "name": "..."}]'
//
// One confidential client (client_secret_basic, code flow only, PKCE with S256 required), a signing key made
// afresh at each start, and a login page of its own the tests drive over HTTP: GET /interaction/<uid> shows a
// form, POST /interaction/<uid>/login with `login=<sub>` signs that account in and grants the requested scopes
// (no consent page: the client is the partnership's own). The secret comes from the environment so that it is
// not on a command line for `ps` to show.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

// Memory is the right store for a provider that lives as long as one test session; naming it as our own choice
// stops the built-in one's warning that a production provider must not use it.
class TestSessionStore extends MemoryAdapter {}

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'client-id': { type: 'string' },
    'redirect-uri': { type: 'string' },
    accounts: { type: 'string', default: '[]' },
  },
});
const secret = process.env.OIDC_CLIENT_SECRET;
if (!args.port || !args['client-id'] || !args['redirect-uri'] || !secret) {
  console.error('needs --port, --client-id, --redirect-uri and OIDC_CLIENT_SECRET in the environment');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${args.port}`;
const accounts = new Map(JSON.parse(args.accounts).map((account) => [account.sub, account]));

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args['client-id'],
      client_secret: secret,
      redirect_uris: [args['redirect-uri']],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { methods: ['S256'], required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified', 'xms_edov'], profile: ['name'] },
  conformIdTokenClaims: false, // email and name in the ID token itself, as Entra ID sends them
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  jwks: { keys: [signingKey()] },
  adapter: TestSessionStore,
  // short, and given (the defaults print a notice each): a test's sign-in takes a second
  ttl: { Interaction: 600, Session: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 300, IdToken: 300 },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ ...account }) };
  },
});

const INTERACTION = /^\/interaction\/([\w-]+)(\/login)?$/;

function page(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><title>Test identity provider</title>${body}`);
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

async function login(req, res) {
  const { params } = await provider.interactionDetails(req, res);
  const sub = (await formBody(req)).get('login') ?? '';
  if (!accounts.has(sub)) {
    page(res, 400, '<p>No such account at this provider.</p>');
    return;
  }
  const grant = new provider.Grant({ accountId: sub, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } });
}

async function interaction(req, res, uid, isLogin) {
  if (isLogin && req.method === 'POST') {
    await login(req, res);
  } else if (!isLogin && req.method === 'GET') {
    await provider.interactionDetails(req, res); // refuses an unknown or expired interaction
    page(res, 200, `<form method="post" action="/interaction/${uid}/login"><input name="login"><button>Sign in</button></form>`);
  } else {
    page(res, 405, '<p>Method not allowed.</p>');
  }
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const match = INTERACTION.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], Boolean(match[2])).catch((error) => {
    // an expired or unknown interaction: its name alone, never the request's contents
    if (!res.headersSent) page(res, 400, `<p>${error.name}</p>`);
  });
});
server.listen(Number(args.port), '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`));
// stdin is a pipe from the harness: when that process goes, however it goes, so does this one
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
