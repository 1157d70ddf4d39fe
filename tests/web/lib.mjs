// lib.mjs - what the browser tests share: Debian's chromium, headless,
// driven by playwright-core (tests/web/package.json), and the checks the
// shell tests count (tests/lib.sh prints "ok" / "not ok" the same way).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

export const base = process.env.WEB_BASE;          // http://127.0.0.1:PORT/
export const shots = process.env.WEB_SHOTS || '';  // folder for screenshots

let failures = 0;
let count = 0;

export function check(name, ok, detail = '') {
	count++;
	if (ok) {
		console.log(`ok - ${name}`);
	} else {
		failures++;
		console.log(`not ok - ${name}${detail ? ': ' + detail : ''}`);
	}
}

export async function launch() {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
	});
	return browser;
}

// A fresh browser context (its own cookies), phone-sized when asked.
export async function page(browser, { phone = false } = {}) {
	const ctx = await browser.newContext(phone
		? { viewport: { width: 390, height: 844 }, isMobile: true }
		: { viewport: { width: 1200, height: 900 } });
	const p = await ctx.newPage();
	p.setDefaultTimeout(15000);
	return p;
}

export async function shot(p, name) {
	if (!shots)
		return;
	mkdirSync(shots, { recursive: true });
	await p.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

// Ends the script: exit status 1 when a check failed.
export function done() {
	console.log(`# ${count} checks, ${failures} failed`);
	process.exit(failures ? 1 : 0);
}
