/**
 * The dashboard's single-page app: TypeScript under ./client bundled by esbuild (with uPlot and
 * its CSS) in memory at the first request of a server process, so nothing is fetched from a CDN
 * and there is no build step to forget. `scripts/build-ui.ts` runs the same build ahead of time
 * (install or CI) and writes the files; the server does not need them.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NeurolensError, errorMessage } from '../../errors.js';

export interface UiBundle {
  js: Uint8Array;
  css: Uint8Array;
  html: string;
  /** Content hash: the asset URLs carry it, so they can be cached forever. */
  version: string;
}

export const UI_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'client', 'main.ts');

/** esbuild over the client: one ES module and one stylesheet, minified, no source map. */
export async function buildUi(opts: { minify?: boolean } = {}): Promise<UiBundle> {
  const esbuild = await import('esbuild');
  let result;
  try {
    result = await esbuild.build({
      entryPoints: { app: UI_ENTRY },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['chrome109', 'firefox115', 'safari16'],
      minify: opts.minify ?? true,
      outdir: 'ui',
      logLevel: 'silent',
      legalComments: 'none',
    });
  } catch (e) {
    throw new NeurolensError('INTERNAL', `cannot bundle the dashboard: ${errorMessage(e)}`, { cause: e });
  }
  const out = (ext: string) => result.outputFiles.find((f) => f.path.endsWith(ext))?.contents ?? new Uint8Array();
  const js = out('.js');
  const css = out('.css');
  const version = createHash('sha256').update(js).update(css).digest('hex').slice(0, 16);
  return { js, css, version, html: pageHtml(version) };
}

function pageHtml(version: string): string {
  // Relative URLs: the dashboard also works behind a reverse proxy under a path prefix.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>neurolens</title>
<link rel="stylesheet" href="ui/app.css?v=${version}">
<script type="module" src="ui/app.js?v=${version}"></script>
</head>
<body>
<noscript>The neurolens dashboard needs JavaScript; the HTTP API is under /api.</noscript>
</body>
</html>
`;
}

let pending: Promise<UiBundle> | undefined;

/** The bundle of this process, built once (a failed build is retried at the next request). */
export function uiBundle(): Promise<UiBundle> {
  pending ??= buildUi().catch((e) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

/** Scripts only from this origin, no inline script; inline styles for uPlot; images as blobs. */
export const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
