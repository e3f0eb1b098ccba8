// Builds what the gateway serves from libs/webclient into one folder per page set:
//   demo/  demo.html + demo.js (the SFU demo), dashboard.html + dashboard.js (analytics,
//          with Chart.js), webinar.js (the SDK as an ES module) and webinar.global.js
//          (the SDK for a plain <script> tag: window.WebinarSDK), azure-captions.js (browser
//          captions with Azure Speech, apart: Microsoft's Speech SDK is large), and the files of its media
//          effects (rnnoise-worklet.js, MediaPipe's selfie_segmentation*)
//   app/   the web app: index.html (landing), host.html, watch.html, their scripts, app.css
//   node build.mjs [outroot]   (default: services/gateway/gateway/static)

import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
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
  entryPoints: ['demo', 'dashboard', 'webinar', 'azure-captions'].map((name) => join(here, `src/${name}.js`)),
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
// The SDK's media effects, served next to it and fetched from nowhere else: RNNoise's
// AudioWorklet (the package's WebAssembly inlined: a worklet cannot fetch) and MediaPipe
// selfie segmentation's script, WebAssembly and models, as npm ships them.
await build({
  ...common,
  entryPoints: [join(here, 'src/effects/rnnoise-worklet.js')],
  outfile: join(demo, 'rnnoise-worklet.js'),
  format: 'esm',
});
const segmentation = join(here, 'node_modules/@mediapipe/selfie_segmentation');
for (const file of await readdir(segmentation)) {
  if (/\.(js|wasm|data|tflite|binarypb)$/.test(file)) await copyFile(join(segmentation, file), join(demo, file));
}

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
