// Builds the demo into one folder the gateway serves: demo.html and demo.js (src/ with
// mediasoup-client and socket.io-client as npm ships them), and the analytics dashboard,
// dashboard.html and dashboard.js (src/dashboard.js with Chart.js), and webinar.js, the SDK
// (src/webinar.js) as an ES module a page imports.
//   node build.mjs [outdir]   (default: services/gateway/gateway/static/demo)

import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] ?? join(here, '../../services/gateway/gateway/static/demo'));

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: [join(here, 'src/demo.js'), join(here, 'src/dashboard.js'), join(here, 'src/webinar.js')],
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome111', 'firefox115', 'safari16'],
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
});
for (const page of ['demo.html', 'dashboard.html']) {
  await copyFile(join(here, page), join(outdir, page));
}
console.log(`webclient: built ${outdir}`);
