/** A named SQL question over the store (one `queries/*.sql` file) and its declared parameters. */

export const PARAM_TYPES = ['VARCHAR', 'INTEGER', 'BIGINT', 'DOUBLE', 'BOOLEAN'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export interface ParamDef {
  name: string;
  type: ParamType;
  required: boolean;
  /** Value used when the caller gives none (absent for required parameters; null = SQL NULL). */
  default?: string | number | boolean | null;
  description: string;
}

export interface ColumnDoc {
  name: string;
  description: string;
}

export interface QueryDef {
  /** File name without `.sql`. */
  name: string;
  /** What the query answers (the header's free text). */
  description: string;
  params: ParamDef[];
  columns: ColumnDoc[];
  /** The whole file, header comments included (`$name` parameters). */
  sql: string;
  /** Absolute path of the file. */
  file: string;
  /**
   * `-- @array-fallback`: the query applies array_* distance functions to `codes.code`, which is
   * FLOAT[D] only when every code in the store has one width; on stores with several widths
   * (FLOAT[]) runQuery runs the list_* equivalents instead.
   */
  arrayFallback?: boolean;
}

/** A parameter value as callers give it: CLI strings, JSON scalars. */
export type RawParam = string | number | boolean | bigint | null;
