import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTestApp, OWNER, setupOwner, type Agent } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';
import { Rng } from './malformed.js';
import { buildRequest, describeRequest, randomPlan, sweepPlans, type FuzzRequest } from './requests.js';
import { keepRowsAlive, learn, seed } from './world.js';

/**
 * Sends ~2,000 malformed requests per dialect to every route the app registers, as the signed-in owner and
 * anonymously, and fails on any 5xx, printing the requests that caused them. Each request is a real, valid
 * one (a form harvested from the app's own pages, real ids and tokens) with one to three things broken, so
 * the bad value gets past the easy checks and reaches the database or a header. A sweep comes first (every
 * slot of every route broken alone with a NUL, an id past 2^31-1 and a character beyond U+FFFF), then
 * seeded random requests.
 * FUZZ_SEED and FUZZ_REQUESTS change the run; a failure prints the seed that reproduces it. FUZZ_TRACE=<route
 * pattern> (e.g. /login) prints every request to that route with its status.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 23_2026);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2000);

/** A fuzzed request may end the owner's session (a password change, say): sign in again to go on. */
async function ensureSignedIn(owner: Agent): Promise<void> {
  if ((await owner.get('/admin')).statusCode === 200) return;
  const res = await owner.post('/login', { email: OWNER.email, password: OWNER.password, _csrf: '' });
  assert.equal(res.statusCode, 303, 'the owner could not sign in again');
  await owner.get('/admin');
}

for (const dialect of DIALECTS) {
  describe(`fuzzing every route (${dialect})`, () => {
    it(`answers ${REQUESTS} malformed requests (seed ${SEED}) without a 5xx`, { timeout: 180_000 }, async () => {
      const t = await buildTestApp(dialect);
      try {
        const owner = await setupOwner(t);
        const world = await seed(t, owner);
        const knowledge = await learn(t, owner, world, SEED);
        const rng = new Rng(SEED);
        const sweep = sweepPlans(knowledge);
        assert.ok(sweep.length < REQUESTS, `the sweep alone takes ${sweep.length} requests; raise FUZZ_REQUESTS`);
        // The first failure of each kind (status, method, route) is printed in full, the rest counted.
        const failures = new Map<string, { request: FuzzRequest; count: number }>();
        let failed = 0;
        for (let i = 0; i < REQUESTS; i++) {
          if (i % 20 === 0) {
            await keepRowsAlive(t, world);
            await ensureSignedIn(owner);
          }
          const request = buildRequest(rng, knowledge, world, owner, sweep[i] ?? randomPlan(rng, knowledge, i));
          const agent = request.as === 'owner' ? owner : t.agent();
          // A response torn down midway (a stream that failed after its headers) is a server error too.
          const status = await agent.request(request.method, request.url, request.payload, request.headers).then(
            (res) => res.statusCode,
            (err: Error) => `${(err as { code?: string }).code ?? err.message}`,
          );
          if (process.env.FUZZ_TRACE && request.route === process.env.FUZZ_TRACE) console.log(status, describeRequest(request));
          if (typeof status === 'string' || status >= 500) {
            failed++;
            const kind = `${status} ${request.method} ${request.route}`;
            const seen = failures.get(kind);
            if (seen) seen.count++;
            else failures.set(kind, { request, count: 1 });
          }
          await t.app.imports.idle();
        }
        const report = [...failures].map(([kind, f]) => `  ${kind} (${f.count}×), e.g. ${describeRequest(f.request)}`).join('\n');
        assert.equal(failed, 0, `${failed} of ${REQUESTS} requests got a 5xx on ${dialect} (FUZZ_SEED=${SEED}):\n${report}`);
      } finally {
        await t.close();
      }
    });
  });
}
