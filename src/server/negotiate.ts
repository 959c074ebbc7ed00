/**
 * Answer format of a request: `?format=` wins, else the Accept header (RFC 9110 §12.5.1: media
 * ranges in order of q-value, `*` wildcards), else JSON.
 */
import { NeurolensError } from '../errors.js';
import { FORMATS, type OutputFormat } from '../queries/index.js';
import { HttpError } from './http-errors.js';

export type HttpFormat = OutputFormat;

const BY_MEDIA_TYPE: Record<string, HttpFormat> = {
  'application/json': 'json',
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/vnd.apache.arrow.stream': 'arrow',
  'application/vnd.apache.parquet': 'parquet',
  'application/x-parquet': 'parquet',
  'text/plain': 'table',
  'application/*': 'json',
  'text/*': 'csv',
  '*/*': 'json',
};

export function negotiateFormat(formatParam: string | undefined, accept: string | undefined): HttpFormat {
  if (formatParam !== undefined && formatParam !== '') {
    if ((FORMATS as readonly string[]).includes(formatParam)) return formatParam as HttpFormat;
    throw new NeurolensError('BAD_QUERY', `unknown format '${formatParam}' (expected one of: ${FORMATS.join(', ')})`);
  }
  if (!accept || accept.trim() === '') return 'json';
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = params.map((p) => /^q=([0-9.]+)$/.exec(p)).find((m) => m !== null);
      return { type, q: q ? Number(q[1]) : 1, i };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    const f = BY_MEDIA_TYPE[r.type];
    if (f) return f;
  }
  throw new HttpError(
    406,
    'NOT_ACCEPTABLE',
    `none of the accepted media types (${accept}) is available; use one of: ${Object.keys(BY_MEDIA_TYPE)
      .filter((t) => !t.includes('*'))
      .join(', ')} or ?format=`,
  );
}
