// archive.mjs PATH ADDRESS PASSWORD: a private archive asks a stranger to
// log in and shows nothing of itself; the member logs in and reads it.
import { launch, page, check, shot, done, base } from './lib.mjs';
const [path, address, password] = process.argv.slice(2);
const b = await launch();
const stranger = await page(b);
let r = await stranger.goto(base + path);
check('a stranger gets the login page (401)', r.status() === 401);
check('and none of the archive', !/December|January|thread\.html/.test(await stranger.content()));
await shot(stranger, 'archive-private-login');
const m = await page(b);
await m.goto(base + path);
await m.fill('input[name=email]', address);
await m.fill('input[name=password]', password);
await m.click('button[value=login]');
r = await m.goto(base + path);
check('the member reads the archive', r.status() === 200 && /thread\.html/.test(await m.content()));
await shot(m, 'archive-index');
const link = await m.$('a[href$="thread.html"]');
if (link) {
	await link.click();
	await m.click('a[href$=".html"] >> nth=-1').catch(() => {});
}
await shot(m, 'archive-page');
await b.close();
done();
