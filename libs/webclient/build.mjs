// Builds what the gateway serves from libs/webclient into one folder per page set:
//   demo/  demo.html + demo.js (the SFU demo), dashboard.html + dashboard.js (analytics,
//          with Chart.js), webinar.js (the SDK as an ES module) and webinar.global.js
//          (the SDK for a plain <script> tag: window.WebinarSDK)
//   app/   the web app: index.html (landing), host.html, watch.html, their scripts, app.css
//   node build.mjs [outroot]   (default: services/gateway/gateway/static)

import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outroot = resolve(process.argv[2] ?? join(here, '../../services/gateway/gateway/static'));
const common = {
  bundle: true,
  platform: 'browser',
  target: ['chrome111', 'firefox115', 'safari16'],
  legalComments: 'eof',
  charset: 'utf8',
  logLevel: 'warning',
};

async function fresh(folder) {
  const path = join(outroot, folder);
  await rm(path, { recursive: true, force: true });
  await mkdir(path, { recursive: true });
  return path;
}

const demo = await fresh('demo');
await build({
  ...common,
  entryPoints: [join(here, 'src/demo.js'), join(here, 'src/dashboard.js'), join(here, 'src/webinar.js')],
  outdir: demo,
  format: 'esm',
});
await build({
  ...common,
  entryPoints: [join(here, 'src/webinar.js')],
  outfile: join(demo, 'webinar.global.js'),
  format: 'iife',
  globalName: 'WebinarSDK',
});
for (const page of ['demo.html', 'dashboard.html']) await copyFile(join(here, page), join(demo, page));

const app = await fresh('app');
await build({
  ...common,
  entryPoints: ['landing', 'host', 'watch'].map((name) => join(here, `src/app/${name}.js`)),
  outdir: app,
  format: 'esm',
  splitting: true,
  chunkNames: 'shared-[hash]',
  minify: true,
});
for (const file of ['index.html', 'host.html', 'watch.html', 'app.css']) {
  await copyFile(join(here, 'app', file), join(app, file));
}
console.log(`webclient: built ${demo} and ${app}`);
