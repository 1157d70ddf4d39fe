// subscribe.mjs PATH ADDRESS: a stranger subscribes on the list's page.
import { launch, page, check, shot, done, base } from './lib.mjs';
const [path, address] = process.argv.slice(2);
const b = await launch();
const p = await page(b);
const r = await p.goto(base + path);
check('the list page opens', r.status() === 200);
check('it has a subscribe form', await p.isVisible('form input[name=email]'));
await shot(p, 'listinfo');
const phone = await page(b, { phone: true });
await phone.goto(base + path);
await shot(phone, 'listinfo-phone');
check('on a phone the page is no wider than the screen',
	await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
await p.fill('input[name=email]', address);
await p.fill('input[name=fullname]', 'A Stranger');
await p.click('form button[type=submit]');
const notice = await p.textContent('.notice');
check('the page says a confirmation is on its way', /confirmation/.test(notice || ''), notice);
await shot(p, 'listinfo-subscribed');
await b.close();
done();
