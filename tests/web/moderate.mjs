// moderate.mjs LIST MODPW OWNERPW - run by tests/integration/web-moderate.sh:
// a moderator logs in, approves the held post "browser approve" and
// rejects "browser reject" with a reason; an owner searches the roster
// for mass0042@example.net and turns its "acknowledge" option on.
import { base, check, done, launch, page, shot } from './lib.mjs';

const [list, modpw, ownerpw] = process.argv.slice(2);
const browser = await launch();
try {
	// --- the moderator ---
	const m = await page(browser);
	await m.goto(`${base}admin/${list}/held`);
	check('the held posts ask a moderator to log in',
	      await m.locator('input[name=password]').count() === 1);
	await m.check('input[name=role][value=moderator]');
	await m.fill('input[name=password]', modpw);
	await m.click('button[value=login]');
	await m.waitForURL(/\/held$/);
	const rows = m.locator('table.held tbody tr');
	check('the moderator sees the held posts', await rows.count() >= 2);
	await shot(m, 'moderate-held');
	await m.click('a:text("browser approve")');
	check('the post page shows the text',
	      (await m.locator('pre.message').textContent()).includes('browser1@example.net'));
	await shot(m, 'moderate-held-post');
	await m.click('button[value=approve]');
	const n1 = await m.locator('.notice').textContent();
	check('approving says so', /approved/.test(n1), n1);
	check('the approved post is gone from the list',
	      await m.locator('a:text("browser approve")').count() === 0);
	await m.click('a:text("browser reject")');
	await m.fill('input[name=reason]', 'Please post in English');
	await m.click('button[value=reject]');
	const n2 = await m.locator('.notice').textContent();
	check('rejecting says so', /rejected/.test(n2), n2);
	await shot(m, 'moderate-after');

	// a phone-sized look at the queue
	const ph = await page(browser, { phone: true });
	await ph.context().addCookies(await m.context().cookies());
	await ph.goto(`${base}admin/${list}/held`);
	await shot(ph, 'moderate-held-phone');

	// --- the owner ---
	const o = await page(browser);
	await o.goto(`${base}admin/${list}/members`);
	await o.check('input[name=role][value=owner]');
	await o.fill('input[name=password]', ownerpw);
	await o.click('button[value=login]');
	await o.waitForURL(/\/members$/);
	check('the owner sees the roster',
	      await o.locator('table.roster tbody tr').count() === 50);
	await shot(o, 'moderate-members');
	await o.fill('input[name=q]', 'MASS0042');
	await o.click('form.search button');
	check('the search finds one member',
	      await o.locator('table.roster tbody tr').count() === 1);
	await o.click('a:text("mass0042@example.net")');
	await o.check('input[name=ack]');
	await o.click('button[value=save]');
	check('the member\'s options are saved',
	      (await o.locator('.notice').textContent()).includes('Saved'));
	check('and shown checked', await o.isChecked('input[name=ack]'));
	await shot(o, 'moderate-member');
	await o.goto(`${base}admin/${list}/members/mass`);
	await shot(o, 'moderate-mass');
	await o.goto(`${base}admin/${list}/requests`);
	await shot(o, 'moderate-requests');
} catch (e) {
	check('the scenario ran to its end', false, e.message);
} finally {
	await browser.close();
}
done();
