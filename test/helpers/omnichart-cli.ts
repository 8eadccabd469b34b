import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

// The repository root, whether this runs from test/helpers (ts-jest) or dist/test/helpers (a bench).
const here = path.resolve(import.meta.dirname, '..', '..');
const repoRoot = path.basename(here) === 'dist' ? path.dirname(here) : here;
const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'omnichart.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `omnichart` command as a child process, as a patient's shell would. */
export function runOmnichart(args: string[], timeoutMs = 120_000): Promise<CliResult> {
  if (!existsSync(cli)) throw new Error('dist/src/cli/omnichart.js is missing: run `npm run build`');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}
