/**
 * The one domain error users can hit. `code` decides the exit code (CLI) or HTTP status
 * (server) at the edge; nothing inside the library turns errors into exit codes.
 */
export type ErrorCode =
  | 'BAD_SPEC' // pipeline spec / CLI options invalid
  | 'BAD_INPUT' // dataset file unreadable, corrupt, wrong format
  | 'BAD_MODEL' // model.json broken, weights missing, shape mismatch
  | 'BAD_QUERY' // unknown query, bad parameter, refused SQL
  | 'NOT_FOUND' // a layer, sample, store part that does not exist
  | 'TOO_MANY_ERRORS' // --max-error-rate exceeded
  | 'BACKEND' // requested backend unavailable
  | 'IO' // storage write/read failure
  | 'INTERNAL';

export const EXIT_CODES: Record<ErrorCode, number> = {
  BAD_SPEC: 2,
  BAD_INPUT: 3,
  BAD_MODEL: 4,
  BAD_QUERY: 5,
  NOT_FOUND: 6,
  TOO_MANY_ERRORS: 7,
  BACKEND: 8,
  IO: 9,
  INTERNAL: 70,
};

export class NeurolensError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NeurolensError';
    this.code = code;
  }
}

export function isNeurolensError(e: unknown): e is NeurolensError {
  return e instanceof Error && (e as NeurolensError).name === 'NeurolensError' && 'code' in e;
}

/** Message of an unknown thrown value, for error records. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
