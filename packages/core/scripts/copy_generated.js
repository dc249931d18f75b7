// tsc does not copy the generated .js/.d.ts pair; put it beside the compiled code in dist/.
const fs = require('node:fs');
const path = require('node:path');

const src = path.resolve(__dirname, '..', 'src', 'generated');
const dst = path.resolve(__dirname, '..', 'dist', 'generated');
fs.mkdirSync(dst, { recursive: true });
for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dst, f));
