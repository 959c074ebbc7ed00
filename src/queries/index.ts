/** Queries: the `queries/*.sql` registry, parameter binding, ad-hoc SQL and result formats. */
export * from './types.js';
export { parseQueryFile, sqlPlaceholders } from './header.js';
export { bindParams, closeNames } from './params.js';
export { QUERIES_DIR, loadQueries, getQuery, runQuery, sqlForStore } from './registry.js';
export { runSql } from './sql.js';
export { FORMATS, BINARY_FORMATS, FORMAT_MIME, isOutputFormat, formatResult, resultRows, arrowToParquet, type OutputFormat } from './format.js';
export { toArrow, arrowMapping, jsonSafe, jsonText } from './arrow.js';
