/**
 * The edge where errors become HTTP answers: a NeurolensError's code decides the status (the
 * library never knows about HTTP), HttpError covers what only exists at the edge (401, 406, 413,
 * 501). Every error answer is JSON `{error, code}`.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isNeurolensError, errorMessage, type ErrorCode } from '../errors.js';
import { log } from '../log.js';

export const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  BAD_SPEC: 400,
  BAD_QUERY: 400,
  NOT_FOUND: 404,
  BAD_INPUT: 422,
  BAD_MODEL: 422,
  TOO_MANY_ERRORS: 500,
  BACKEND: 503,
  IO: 500,
  INTERNAL: 500,
};

export type HttpErrorCode = 'UNAUTHORIZED' | 'NOT_ACCEPTABLE' | 'PAYLOAD_TOO_LARGE' | 'NOT_IMPLEMENTED' | 'NOT_FOUND';

export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function errorStatus(e: unknown): { status: ContentfulStatusCode; code: string; message: string } {
  if (e instanceof HttpError) return { status: e.status, code: e.code, message: e.message };
  if (isNeurolensError(e)) return { status: HTTP_STATUS[e.code], code: e.code, message: e.message };
  return { status: 500, code: 'INTERNAL', message: `internal error: ${errorMessage(e)}` };
}

/** Hono onError handler. */
export function respondError(e: unknown, c: Context): Response {
  const { status, code, message } = errorStatus(e);
  // 503 is a state of the server (shutting down, a backend not ready), not a fault: a warning.
  if (status === 503) log.warn({ path: c.req.path, code }, message);
  else if (status >= 500 && status !== 501) log.error({ err: e, path: c.req.path }, message);
  else log.info({ path: c.req.path, code }, message);
  if (status === 401) c.header('WWW-Authenticate', 'Bearer realm="neurolens"');
  return c.json({ error: message, code }, status);
}
