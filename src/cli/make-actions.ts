import { InvalidArgumentError, type Command } from 'commander';
import { intOption } from './options.js';
import { fmtEta } from '../train/progress.js';
import { makeActions, MAKE_ACTIONS_DEFAULTS as D, type MakeActionsEvent, type MakeActionsOptions, type MakeActionsSummary } from '../video/synth/index.js';

/** Commander's options: the generator's, less what the CLI fixes, plus --json. */
type MakeActionsOpts = Omit<MakeActionsOptions, 'overwrite' | 'concurrency'> & { overwrite?: boolean; json?: boolean };

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`--fps: expected a positive number, got '${v}'`);
  return n;
}

/**
 * Progress on stderr: a line rewritten in place on a TTY, a line every few seconds otherwise (CI
 * logs), NDJSON with --json (stdout is kept for the summary).
 */
function progress(json: boolean): (e: MakeActionsEvent) => void {
  const tty = !json && process.stderr.isTTY;
  const every = json ? 2000 : tty ? 200 : 5000;
  let last = 0;
  return (e) => {
    if (e.type === 'start') {
      last = performance.now();
      if (json) process.stderr.write(JSON.stringify(e) + '\n');
      else process.stderr.write(`writing ${e.videos} videos of ${e.classes} action classes to ${e.out}\n`);
      return;
    }
    const now = performance.now();
    if (now - last < every && e.done < e.total) return;
    last = now;
    if (json) process.stderr.write(JSON.stringify(e) + '\n');
    else {
      const line = `video ${e.done}/${e.total} ${e.videosPerSec.toFixed(1)} videos/s ETA ${fmtEta(e.etaSec)}`;
      process.stderr.write(tty ? `\r\x1b[K${line}${e.done === e.total ? '\n' : ''}` : line + '\n');
    }
  };
}

function report(s: MakeActionsSummary, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify({ type: 'summary', ...s }) + '\n');
  else
    process.stderr.write(
      `done: ${s.videos} videos (${s.classes.length} classes x (${s.train} train + ${s.test} test)), ${s.frames} frames of ${s.size}x${s.size}, ${(s.bytes / 2 ** 20).toFixed(1)} MiB in ${s.seconds.toFixed(1)} s (${s.videosPerSec.toFixed(1)} videos/s); manifest ${s.out}/manifest.csv\n`,
    );
}

/**
 * `neurolens make-actions`: writes the synthetic action-recognition dataset (8 motion classes,
 * appearance as a nuisance; see src/video/synth/classes.ts) as real H.264 MP4 files through
 * ffmpeg, with manifest.csv and classes.json. Nothing is downloaded.
 */
export function registerMakeActions(program: Command): void {
  program
    .command('make-actions')
    .description('write a synthetic action-recognition video dataset (MP4 through ffmpeg) with manifest.csv and classes.json')
    .requiredOption('--out <dir>', 'output directory (must be empty or new, unless --overwrite)')
    .option('--train <n>', 'training videos per class', intOption('--train', 0), D.train)
    .option('--test <n>', 'test videos per class', intOption('--test', 0), D.test)
    .option('--size <px>', 'frame width and height (even)', intOption('--size', 16), D.size)
    .option('--frames <n>', 'frames per video', intOption('--frames', 2), D.frames)
    .option('--fps <x>', 'frames per second written in the file', positive, D.fps)
    .option('--seed <n>', 'dataset seed (same seed => same videos)', intOption('--seed', 0), D.seed)
    .option('--crf <n>', 'x264 constant rate factor (0 lossless .. 51)', intOption('--crf', 0), D.crf)
    .option('--overwrite', 'replace the dataset files in a non-empty --out')
    .option('--json', 'progress as NDJSON on stderr and a summary as JSON on stdout')
    .action(async (opts: MakeActionsOpts) => {
      const summary = await makeActions(
        { ...opts, overwrite: opts.overwrite ?? false, concurrency: D.concurrency },
        progress(opts.json ?? false),
      );
      report(summary, opts.json ?? false);
    });
}
