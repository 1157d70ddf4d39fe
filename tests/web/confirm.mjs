// confirm.mjs PATH: the link of a confirmation mail: the page shows the
// request and changes nothing until its button is pressed.
import { launch, page, check, shot, done, base } from './lib.mjs';
const [path] = process.argv.slice(2);
const b = await launch();
const p = await page(b);
const r = await p.goto(base + path);
check('the confirm page opens', r.status() === 200);
check('it names the request', /Subscribe .* to the list\?/.test(await p.textContent('main')));
await shot(p, 'confirm');
await p.click('button[value=confirm]');
const text = await p.textContent('main');
check('confirming says it is done', /Done/.test(text), text.trim().slice(0, 200));
await shot(p, 'confirmed');
await b.close();
done();
