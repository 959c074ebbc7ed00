/**
 * Mounts the dashboard on a hono app: `/` (the page) and `/ui/app.js`, `/ui/app.css`. The page
 * and its assets need no token (they hold no data); the page sends the token to /api itself.
 */
import type { Hono } from 'hono';
import { UI_CSP, uiBundle } from './assets.js';

export function mountDashboard(app: Hono): void {
  const headers = (c: { header(k: string, v: string): void }, type: string, immutable: boolean) => {
    c.header('Content-Type', type);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  };
  app.get('/', async (c) => {
    const b = await uiBundle();
    headers(c, 'text/html; charset=utf-8', false);
    c.header('Content-Security-Policy', UI_CSP);
    c.header('Referrer-Policy', 'no-referrer');
    return c.body(b.html);
  });
  app.get('/ui/app.js', async (c) => {
    const b = await uiBundle();
    headers(c, 'text/javascript; charset=utf-8', c.req.query('v') === b.version);
    return c.body(b.js as Uint8Array<ArrayBuffer>);
  });
  app.get('/ui/app.css', async (c) => {
    const b = await uiBundle();
    headers(c, 'text/css; charset=utf-8', c.req.query('v') === b.version);
    return c.body(b.css as Uint8Array<ArrayBuffer>);
  });
}
