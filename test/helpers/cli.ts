import path from 'node:path';
import { execFile } from 'node:child_process';

const BIN = path.resolve('bin/neurolens.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `neurolens ARGS` in a real child process without blocking the test worker's event loop
 * (spawnSync would starve vitest's RPC during long runs).
 */
export function cli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, cwd: opts.cwd, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      const status = err ? ((err as NodeJS.ErrnoException & { code?: unknown }).code as number | undefined) ?? 1 : 0;
      resolve({ status: typeof status === 'number' ? status : 1, stdout, stderr });
    });
  });
}

export const NEUROLENS_BIN = BIN;
