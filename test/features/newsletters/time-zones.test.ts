import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { listTimeZone, timeZoneOptions } from '../../../src/lib/time-zones.js';
import { buildTestApp, setupOwner, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { makeNewsletter, makeSubscriber } from '../subscribers/factories.js';

/**
 * A newsletter's time zone: UTC is in the list and stays chosen when saved, each zone shows its offset,
 * and the admin's subscriber pages write times in the default newsletter's zone.
 */

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** What a browser submits for the rendered time-zone control: an input's value, or a select's chosen (else first) option. */
function submittedZone(html: string): string {
  const input = /<input[^>]*name="time_zone"[^>]*>/.exec(html)?.[0];
  if (input) return decode(/\svalue="([^"]*)"/.exec(input)?.[1] ?? '');
  const select = /<select[^>]*name="time_zone"[^>]*>([\s\S]*?)<\/select>/.exec(html)?.[1] ?? '';
  const options = [...select.matchAll(/<option([^>]*)>([^<]*)<\/option>/g)];
  const chosen = options.find((o) => /\bselected\b/.test(o[1]!)) ?? options[0];
  return decode((/value="([^"]*)"/.exec(chosen?.[1] ?? '')?.[1] ?? chosen?.[2] ?? '').trim());
}

function zoneOptions(html: string): Array<{ value: string; label: string }> {
  return [...html.matchAll(/<option value="([^"]*)">([^<]*)<\/option>/g)].map((m) => ({ value: decode(m[1]!), label: decode(m[2]!) }));
}

describe('the time-zone list', () => {
  it('starts with UTC, then goes west to east by the offset in force, each labelled with it', () => {
    const winter = timeZoneOptions(Date.UTC(2026, 0, 15, 12));
    assert.deepEqual(winter[0], { id: 'UTC', offset: 0, label: '(UTC+00:00) UTC' });
    assert.equal(winter.filter((o) => o.id === 'UTC').length, 1);
    const rest = winter.slice(1);
    assert.ok(rest.every((o, i) => i === 0 || rest[i - 1]!.offset <= o.offset), 'sorted by offset');
    assert.equal(winter.find((o) => o.id === 'Europe/Paris')?.label, '(UTC+01:00) Europe/Paris');
    // V8 still lists some zones under their older names (Asia/Katmandu); match either.
    assert.match(winter.find((o) => /^Asia\/Kath?mandu$/.test(o.id))?.label ?? '', /^\(UTC\+05:45\) Asia\/Kath?mandu$/);
    assert.equal(winter.find((o) => o.id === 'America/St_Johns')?.label, '(UTC-03:30) America/St_Johns');
    const summer = timeZoneOptions(Date.UTC(2026, 6, 15, 12));
    assert.equal(summer.find((o) => o.id === 'Europe/Paris')?.label, '(UTC+02:00) Europe/Paris');
  });

  it('picks the default newsletter zone for list-wide pages, else the oldest newsletter, else UTC', () => {
    assert.equal(listTimeZone([{ id: 1, default_lock: null, time_zone: 'Asia/Tokyo' }, { id: 2, default_lock: 1, time_zone: 'Europe/Paris' }]), 'Europe/Paris');
    assert.equal(listTimeZone([{ id: 5, default_lock: null, time_zone: 'Asia/Tokyo' }, { id: 3, default_lock: null, time_zone: 'America/Denver' }]), 'America/Denver');
    assert.equal(listTimeZone([]), 'UTC');
  });
});

for (const dialect of DIALECTS) {
  describe(`newsletter time zone (${dialect})`, () => {
    let t: TestApp;
    let admin: Agent;
    let id: number;
    beforeEach(async () => {
      t = await buildTestApp(dialect);
      admin = await setupOwner(t);
      id = (await t.db.db.selectFrom('newsletters').select('id').executeTakeFirstOrThrow()).id;
    });
    afterEach(() => t.close());

    const zoneOf = async (newsletterId: number) =>
      (await t.db.db.selectFrom('newsletters').select('time_zone').where('id', '=', newsletterId).executeTakeFirstOrThrow()).time_zone;

    it('saving the form as shown keeps UTC', async () => {
      assert.equal(await zoneOf(id), 'UTC');
      const page = await admin.get(`/admin/newsletters/${id}`);
      assert.equal(page.statusCode, 200);
      assert.equal(submittedZone(page.body), 'UTC');
      const options = zoneOptions(page.body);
      assert.deepEqual(options[0], { value: 'UTC', label: '(UTC+00:00) UTC' });
      // The test clock is in November: Paris is on winter time.
      assert.ok(options.some((o) => o.value === 'Europe/Paris' && o.label === '(UTC+01:00) Europe/Paris'));
      assert.ok(options.length > 400);

      const row = await t.db.db.selectFrom('newsletters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      const saved = await admin.post(`/admin/newsletters/${id}`, {
        name: row.name,
        slug: row.slug,
        from_email: row.from_email,
        time_zone: submittedZone(page.body),
        double_opt_in: 'on',
        archive_public: 'on',
        is_default: 'on',
      });
      assert.equal(saved.statusCode, 303);
      assert.equal(await zoneOf(id), 'UTC');
      assert.equal(submittedZone((await admin.get(`/admin/newsletters/${id}`)).body), 'UTC');
    });

    it('keeps a saved zone chosen, accepts a label or any spelling of a zone, and refuses the rest beside the field', async () => {
      const row = await t.db.db.selectFrom('newsletters').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      const form = { name: row.name, slug: row.slug, from_email: row.from_email, is_default: 'on' };
      for (const [typed, stored] of [
        ['Europe/Paris', 'Europe/Paris'],
        ['(UTC+01:00) Europe/Paris', 'Europe/Paris'],
        ['utc', 'UTC'],
        ['Etc/UTC', 'UTC'],
        ['america/new_york', 'America/New_York'],
      ] as const) {
        const res = await admin.post(`/admin/newsletters/${id}`, { ...form, time_zone: typed });
        assert.equal(res.statusCode, 303, typed);
        assert.equal(await zoneOf(id), stored, typed);
        const page = await admin.get(`/admin/newsletters/${id}`);
        assert.equal(submittedZone(page.body), stored);
      }
      for (const bad of ['Mars/Olympus', '', 'x'.repeat(5000)]) {
        const res = await admin.post(`/admin/newsletters/${id}`, { ...form, time_zone: bad });
        assert.equal(res.statusCode, 422, JSON.stringify(bad.slice(0, 20)));
        assert.match(res.body, /id="f-time_zone-error">Choose a time zone from the list/);
        assert.match(res.body, /aria-invalid="true"/);
      }
      // A NUL byte never reaches the form's own checks: the edge refuses it and names the field.
      const nul = await admin.post(`/admin/newsletters/${id}`, { ...form, time_zone: 'Europe/Paris\u0000' });
      assert.equal(nul.statusCode, 400);
      assert.match(nul.body, /time_zone/);
      assert.equal(await zoneOf(id), 'America/New_York');
    });

    it("writes subscriber pages' times in the default newsletter's zone", async () => {
      await t.db.db.updateTable('newsletters').set({ time_zone: 'Asia/Tokyo' }).where('id', '=', id).execute();
      const other = await makeNewsletter(t.db.db, 'other');
      await t.db.db.updateTable('newsletters').set({ time_zone: 'America/New_York' }).where('id', '=', other).execute();
      // 23:30 UTC on 31 January is already 1 February in Tokyo.
      const at = Date.UTC(2026, 0, 31, 23, 30);
      const sub = await makeSubscriber(t.db.db, { email: 'ada@example.com', createdAt: at, subscriptions: [{ newsletterId: other, status: 'active' }] });

      const list = await admin.get('/admin/subscribers');
      assert.match(list.body, /<time datetime="2026-01-31T23:30:00.000Z" title="Sun, 1 Feb 2026, 08:30 \(Asia\/Tokyo\)">1 February 2026<\/time>/);
      const detail = await admin.get(`/admin/subscribers/${sub}`);
      assert.match(detail.body, /<dt>Added<\/dt><dd>Sun, 1 Feb 2026, 08:30 \(Asia\/Tokyo\)<\/dd>/);
      assert.doesNotMatch(detail.body, / UTC</);
    });
  });
}
