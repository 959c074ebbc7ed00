/**
 * Optional bearer token (RFC 6750 `Authorization: Bearer <token>`). Compared in constant time:
 * both sides are hashed to 32 bytes first, so neither the content nor the length of the token
 * leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { HttpError } from './http-errors.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function bearerAuth(token: string): MiddlewareHandler {
  if (token === '') throw new Error('bearerAuth: empty token');
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      throw new HttpError(401, 'UNAUTHORIZED', m ? 'invalid bearer token' : 'missing bearer token (Authorization: Bearer <token>)');
    }
    await next();
  };
}
