import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OmnichartClient } from '../../examples/client.js';
import { exited } from '../helpers/built-node.js';
import { runOmnichart } from '../helpers/omnichart-cli.js';
import { createTestDatabase } from '../helpers/test-database.js';

const cli = path.resolve(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'omnichart.js');

describe('omnichart start', () => {
  it('runs the node as npm start does and stops cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-start-'));
    const database = await createTestDatabase();
    const child = spawn(process.execPath, [cli, 'start'], {
      env: {
        PATH: process.env.PATH,
        OMNICHART_DATA_DIR: dataDir,
        OMNICHART_PORT: '0',
        DATABASE_URL: database.url,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let log = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          const match = /GraphQL listening at (http:\/\/\S+?\/graphql)/.exec(log);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${log}`)));
      });
      const answer = await new OmnichartClient(url).send<{ __typename: string }>('{ __typename }');
      expect(answer.data).toEqual({ __typename: 'Query' });
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('exits 2 on arguments it does not take', async () => {
    const result = await runOmnichart(['start', '--port', '1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^omnichart start: Unknown option '--port'/);
  });
});
