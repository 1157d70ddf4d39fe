// unsubscribe.mjs PATH: a member opens the one-click link of their copy's
// List-Unsubscribe header and presses its one button.
import { launch, page, check, shot, done, base } from './lib.mjs';
const [path] = process.argv.slice(2);
const b = await launch();
const p = await page(b);
const r = await p.goto(base + path);
check('the unsubscribe page opens', r.status() === 200);
await shot(p, 'unsubscribe');
await p.click('main form button[type=submit]');
const text = await p.textContent('main');
check('the page says they are unsubscribed', /unsubscribed/.test(text), text.trim().slice(0, 200));
await b.close();
done();
