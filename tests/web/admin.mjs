// admin.mjs - run by tests/integration/web-admin.sh: the owner of
// b@example.org logs in and changes settings in three categories (General,
// Digest, Archiving), each saved and shown again; the site administrator
// creates browser@example.org.  Screenshots: a category page, the site page.
import { base, check, done, launch, page, shot } from './lib.mjs';

const browser = await launch();
try {
	const p = await page(browser);
	await p.goto(`${base}admin/b@example.org`);
	check('the admin page asks the owner to log in',
	      await p.locator('input[name=password]').count() === 1);
	await p.fill('input[name=password]', 'owner-b-pw');
	await p.click('button[value=login]');
	await p.waitForSelector('input[name=description]');
	check('after the login: the General page', (await p.locator('h1').innerText()).includes('General'));

	// General: a text field.
	await p.fill('input[name=description]', 'Set in the browser');
	await p.click('button[type=submit]:has-text("Save changes")');
	await p.waitForSelector('.notice');
	check('General: saved', (await p.locator('.notice').innerText()).includes('saved'));
	check('General: the new value is shown',
	      await p.inputValue('input[name=description]') === 'Set in the browser');

	// Digest: a yes/no.
	await p.click('nav.tabs a[href$="/digest"]');
	await p.waitForSelector('input[name=digestable]');
	await p.check('input[name=digestable][value=no]');
	await p.click('button:has-text("Save changes")');
	await p.waitForSelector('.notice');
	check('Digest: saved, "no" checked',
	      await p.isChecked('input[name=digestable][value=no]'));

	// Archiving: another yes/no, then a wrong number elsewhere is refused.
	await p.click('nav.tabs a[href$="/archive"]');
	await p.waitForSelector('input[name=archive_private]');
	await p.check('input[name=archive_private][value="1"]');
	await p.click('button:has-text("Save changes")');
	await p.waitForSelector('.notice');
	check('Archiving: saved, "private" checked',
	      await p.isChecked('input[name=archive_private][value="1"]'));
	await shot(p, 'admin-archive');

	await p.click('nav.tabs a[href$="/privacy"]');
	await p.waitForSelector('nav.tabs.sub');
	check('Privacy: its sub-pages', await p.locator('nav.tabs.sub a').count() === 4);
	await shot(p, 'admin-privacy');

	// The site administrator, in a browser of their own.
	const s = await page(browser);
	await s.goto(`${base}admin/`);
	await s.fill('input[name=password]', 'site-pw');
	await s.click('button[value=login]');
	await s.waitForSelector('input[name=list][type=text]');
	check('the site page lists the lists',
	      (await s.locator('table').first().innerText()).includes('b@example.org'));
	await s.fill('input[name=list][type=text]', 'browser@example.org');
	await s.fill('textarea[name=owners]', 'browser-owner@example.org');
	await s.fill('input[name=password]', 'browser-pw');
	await s.click('button:has-text("Create the list")');
	await s.waitForSelector('.notice');
	check('the site administrator created a list',
	      (await s.locator('.notice').innerText()).includes('browser@example.org') &&
	      (await s.locator('table').first().innerText()).includes('browser@example.org'));
	await shot(s, 'site-admin');

} catch (e) {
	check('the admin scenario ran', false, String(e));
} finally {
	await browser.close();
}
done();
