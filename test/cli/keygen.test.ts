import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Wallet } from 'ethers';
import nacl from 'tweetnacl';
import { runOmnichart } from '../helpers/omnichart-cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'omnichart-keygen-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('omnichart keygen', () => {
  it('writes a key file whose address is its private key’s and whose box keys pair up', async () => {
    const file = path.join(dir, 'keys.json');
    const result = await runOmnichart(['keygen', '--out', file]);
    expect(result.code).toBe(0);
    const keys = JSON.parse(await readFile(file, 'utf8'));
    expect(Object.keys(keys).sort()).toEqual(['address', 'boxPublicKey', 'boxSecretKey', 'privateKey']);
    expect(result.stdout.trim()).toBe(keys.address);
    expect(keys.privateKey).toMatch(/^0x[0-9a-f]{64}$/);
    expect(new Wallet(keys.privateKey).address).toBe(keys.address);
    const secret = new Uint8Array(Buffer.from(keys.boxSecretKey, 'base64'));
    expect(secret).toHaveLength(32);
    expect(Buffer.from(nacl.box.keyPair.fromSecretKey(secret).publicKey).toString('base64')).toBe(
      keys.boxPublicKey,
    );
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('refuses to overwrite a file unless --force, and then writes new keys with mode 0600', async () => {
    const file = path.join(dir, 'existing.json');
    await writeFile(file, 'precious', { mode: 0o644 });
    const refused = await runOmnichart(['keygen', '--out', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/exists; refusing to overwrite a key file \(use --force to replace it\)/);
    expect(await readFile(file, 'utf8')).toBe('precious');
    const forced = await runOmnichart(['keygen', '--out', file, '--force']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8')).address).toBe(forced.stdout.trim());
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('exits 2 on bad arguments, 0 on --help, and names unknown commands', async () => {
    expect((await runOmnichart(['keygen'])).stderr).toMatch(/--out FILE is required/);
    expect((await runOmnichart(['keygen', '--outt', 'x'])).code).toBe(2);
    const help = await runOmnichart(['keygen', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: omnichart keygen --out FILE/);
    const unknown = await runOmnichart(['exprot']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "exprot"/);
    const overview = await runOmnichart(['help']);
    expect(overview.code).toBe(0);
    for (const name of ['start', 'keygen', 'import', 'export', 'verify'])
      expect(overview.stdout).toContain(`  ${name}`);
    expect((await runOmnichart(['help', 'export'])).stdout).toMatch(
      /^usage: omnichart export --key FILE --out FILE/,
    );
  });
});
