export { Watcher, specHash, type WatchOptions, type WatchResult, type StopReason } from './watcher.js';
export { Reporter, type WatchEvent, type ReporterOptions } from './events.js';
export { WatchLock, lockPath, whyStale, WATCH_DIR, type LockInfo, type Takeover } from './lock.js';
export { WatchState, type AnalysedCheckpoint } from './state.js';
export { checkModelFiles, dirSignature, hasCompleteMarker, COMPLETE_MARKER, type FilesCheck } from './complete.js';
export { candidateDirs, isSingleDir } from './discover.js';
export { everySchedule, cronSchedule, type Schedule } from './schedule.js';
export { parseDuration, formatDuration } from './duration.js';
