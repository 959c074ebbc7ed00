/**
 * Bundles the dashboard (src/server/ui/client) with esbuild ahead of time and writes
 * `app.js`, `app.css` and `index.html` to a directory (default `out/ui`): to check the bundle at
 * install or in CI, or to host the page elsewhere. `neurolens serve` does not need these files:
 * it runs the same build in memory at its first request.
 *
 *   npx tsx scripts/build-ui.ts [outdir]
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildUi } from '../src/server/ui/assets.js';

const outdir = path.resolve(process.argv[2] ?? 'out/ui');
const started = performance.now();
const b = await buildUi();
await fs.mkdir(path.join(outdir, 'ui'), { recursive: true });
await fs.writeFile(path.join(outdir, 'ui', 'app.js'), b.js);
await fs.writeFile(path.join(outdir, 'ui', 'app.css'), b.css);
await fs.writeFile(path.join(outdir, 'index.html'), b.html);
console.log(`dashboard ${b.version}: app.js ${(b.js.length / 1024).toFixed(1)} KiB, app.css ${(b.css.length / 1024).toFixed(1)} KiB -> ${outdir} (${(performance.now() - started).toFixed(0)} ms)`);
