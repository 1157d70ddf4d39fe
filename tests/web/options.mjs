// options.mjs VAR LIST_A LIST_B - a member's pages in the browser
// (tests/integration/web-options.sh sets up the lists):
//   bob logs in with his password, changes his options and his name,
//   sees them kept, and unsubscribes;
//   carol asks for a login link, follows the one that was mailed to her
//   (read from the virgin queue of VAR: no runner sends herald's mail in
//   that test), and sees "all my lists" with both of hers;
//   screenshots of the options page on a desktop and a phone.
import { launch, page, check, shot, done, base } from './lib.mjs';
import { readdirSync, readFileSync } from 'node:fs';

const [varDir, listA, listB] = process.argv.slice(2);
const enc = encodeURIComponent;

// The body of the newest notice in the virgin queue for rcpt, decoded
// when it is quoted-printable.
function mailFor(rcpt) {
	const dir = `${varDir}/queue/virgin`;
	const files = readdirSync(dir).filter((f) => f.endsWith('.msg')).sort();
	for (const f of files.reverse()) {
		const text = readFileSync(`${dir}/${f}`, 'utf8');
		if (!text.includes(`\nrcpt: ${rcpt}\n`))
			continue;
		const body = text.slice(text.indexOf('\n\n', text.indexOf('\n\n') + 2) + 2);
		if (/^Content-Transfer-Encoding: quoted-printable/mi.test(text))
			return body.replace(/=\r?\n/g, '')
				.replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
		return body;
	}
	return '';
}

async function logIn(p, list, email, password) {
	await p.goto(`${base}options/${enc(list)}`);
	await p.fill('input[name=email]', email);
	await p.fill('input[name=password]', password);
	await p.click('button[value=login]');
	await p.waitForLoadState();
}

const browser = await launch();
try {
	// --- bob: password login, options, name, unsubscribe ---
	const p = await page(browser);
	await logIn(p, listA, 'bob@example.com', 'bob-secret');
	check('bob lands on his options page',
		p.url() === `${base}options/${enc(listA)}/${enc('bob@example.com')}`, p.url());
	await p.check('input[name=mode][value=plain]');
	await p.check('input[name=ack]');
	await p.check('input[name=nodupes]');
	await p.uncheck('input[name=delivery]');
	await p.fill('input[name=name]', 'Bob Browser');
	await p.click('button:has-text("Save my options")');
	await p.waitForLoadState();
	check('the options are saved', (await p.textContent('p.notice') || '').includes('Your options were saved.'));
	check('the name is kept', await p.inputValue('input[name=name]') === 'Bob Browser');
	check('plain digests are kept', await p.isChecked('input[name=mode][value=plain]'));
	check('ack is kept', await p.isChecked('input[name=ack]'));
	check('nodupes is kept', await p.isChecked('input[name=nodupes]'));
	check('notmetoo stayed off', !(await p.isChecked('input[name=notmetoo]')));
	check('delivery is off', !(await p.isChecked('input[name=delivery]')));
	await shot(p, 'options-desktop');

	const phone = await page(browser, { phone: true });
	await logIn(phone, listA, 'bob@example.com', 'bob-secret');
	check('the options page on a phone', await phone.isVisible('button:has-text("Save my options")'));
	const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
	check('it fits the phone\'s width', wide <= 400, `${wide}px`);
	await shot(phone, 'options-phone');

	await p.check('input[name=confirm]');
	await p.click('button:has-text("Unsubscribe")');
	await p.waitForLoadState();
	check('bob is unsubscribed', (await p.textContent('main')).includes(`bob@example.com is no longer subscribed to ${listA}.`));

	// --- carol: the login link by mail, all her lists ---
	const c = await page(browser);
	await c.goto(`${base}options/${enc(listA)}`);
	await c.fill('input[name=email]', 'carol@example.com');
	await c.click('button[value=link]');
	await c.waitForLoadState();
	check('asking for a login link says it is on its way', (await c.textContent('main')).includes('login link is on its way'));
	const mail = mailFor('carol@example.com');
	const m = mail.match(/http:\/\/\S*\/login\?\S+/);
	check('the login link is in the mail', m !== null, mail.slice(0, 200));
	if (m) {
		await c.goto(m[0]);
		await c.click('button[value=confirm]');
		await c.waitForLoadState();
		check('the link logs carol in to her options',
			c.url() === `${base}options/${enc(listA)}/${enc('carol@example.com')}`, c.url());
		const lists = await c.textContent('table');
		check('all my lists shows both of hers', lists.includes(listA) && lists.includes(listB));
		check('the other list offers a login link',
			await c.isVisible(`form:has(input[name=list][value="${listB}"]) button:has-text("Email me a login link")`));
		await shot(c, 'options-all-lists');
		await c.goto(m[0]);
		await c.click('button[value=confirm]');
		await c.waitForLoadState();
		check('the link works once', (await c.textContent('main')).includes('used already'));
	}
} catch (e) {
	check('the browser scenario ran', false, String(e));
} finally {
	await browser.close();
}
done();
