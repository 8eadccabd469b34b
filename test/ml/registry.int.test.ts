import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { CID } from 'multiformats/cid';
import type { DataSource } from 'typeorm';
import type { Caller } from '../../src/auth/caller.js';
import { ForbiddenError, IntegrityError, UnauthenticatedError } from '../../src/errors.js';
import { openEmbeddedLedger, type EmbeddedLedger } from '../../src/ledger/embedded-chain.js';
import { silentLogger } from '../../src/logger.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { metricsHash, parseArtifact } from '../../src/ml/artifact.js';
import { modelKey } from '../../src/ledger/ids.js';
import { ModelRegistry } from '../../src/ml/model-registry.js';
import { ModelService } from '../../src/ml/model-service.js';
import { trainModel } from '../../src/ml/training.js';
import type { ContentStore } from '../../src/storage/content-store.js';
import { cidOf, openContentStore } from '../../src/storage/helia-content-store.js';
import { createTestDatabase } from '../helpers/test-database.js';
import { randomKey, tempDir } from '../ledger/helpers.js';
import { memoryChart, servedArtifactFile } from './helpers.js';
import { TrainingJobStore } from '../../src/storage/training-job-store.js';

const analyst: Caller = {
  address: '0x00000000000000000000000000000000000000a1',
  role: 'ANALYST',
  sessionId: 's1',
};
const patientCaller: Caller = {
  address: '0x00000000000000000000000000000000000000b2',
  role: 'PATIENT',
  sessionId: 's2',
};

/** In-memory chart reader: the patient may read their own chart, nobody else. */
const charts = new Map<string, Resource[]>();
const chart = {
  async open(caller: Caller, patient: string) {
    if (caller.address !== patient) throw new ForbiddenError('not your chart');
    return memoryChart(charts.get(patient) ?? []);
  },
};

describe('model registry on anvil + Helia', () => {
  let ledger: EmbeddedLedger;
  let content: ContentStore;
  let dir: string;
  let remove: () => Promise<void>;
  let modelsDir: string;
  let pimaFile: string;
  let dataSource: DataSource;
  let dropDatabase: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    dataSource = createDataSource(database.url);
    await dataSource.initialize();
    await dataSource.runMigrations();
    ({ dir, remove } = await tempDir('ml-registry'));
    ledger = await openEmbeddedLedger({ dataDir: dir, relayerKey: randomKey(), logger: silentLogger });
    content = await openContentStore({ blockstoreDir: path.join(dir, 'blocks') });
    modelsDir = path.join(dir, 'models');
    await mkdir(modelsDir);
    for (const dataset of ['pima', 'wdbc']) {
      const file = servedArtifactFile(dataset);
      await copyFile(file, path.join(modelsDir, path.basename(file)));
    }
    pimaFile = path.join(modelsDir, path.basename(servedArtifactFile('pima')));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await dropDatabase?.();
    await content?.close();
    await ledger?.close();
    await remove?.();
  });

  it('publishes every artifact to IPFS, anchors CID + metrics hash once, and loads them verified', async () => {
    const service = new ModelService({
      content,
      ledger,
      chart,
      logger: silentLogger,
      modelsDir,
      trainingJobs: new TrainingJobStore(dataSource),
    });
    const report = await service.start();
    expect(report.refused).toEqual([]);
    expect(report.served).toHaveLength(2);

    const bytes = await readFile(pimaFile);
    const artifact = parseArtifact(bytes, pimaFile);
    const expectedCid = await cidOf(bytes);
    const anchor = await ledger.modelAnchor(modelKey(artifact.modelId));
    expect(CID.decode(anchor!.cid).toString()).toBe(expectedCid.toString());
    expect(anchor!.metricsHash).toBe(metricsHash(artifact.metrics));

    const card = service.models().find((m) => m.artifact.modelId === artifact.modelId)!;
    expect(card.cid).toBe(expectedCid.toString());
    expect(card.anchor).toEqual({ txHash: anchor!.txHash, blockNumber: anchor!.blockNumber });

    // A second start finds the anchors and sends no transaction.
    const again = new ModelRegistry({ content, ledger, logger: silentLogger });
    const published = await again.publish(new Uint8Array(bytes), { source: 'again' });
    expect(published.anchored).toBe(false);
    expect(published.anchor.txHash).toBe(anchor!.txHash);
  });

  it('refuses an artifact file changed by one byte after it was anchored', async () => {
    const original = await readFile(pimaFile);
    // Change one digit of the stored accuracy (still valid JSON, a plausible-looking artifact).
    const marker = '"accuracy":{"mean":0.';
    const at = original.indexOf(marker) + Buffer.byteLength(marker);
    const tampered = Buffer.from(original);
    tampered[at] = tampered[at] === 0x39 ? 0x38 : tampered[at] + 1;
    await writeFile(pimaFile, tampered);
    try {
      const registry = new ModelRegistry({ content, ledger, logger: silentLogger });
      const report = await registry.publishDirectories([modelsDir]);
      const id = parseArtifact(original, 'original').modelId;
      expect(report.served).not.toContain(id);
      expect(report.refused).toHaveLength(1);
      expect(report.refused[0].error).toMatch(/changed: refused/);
      // The chain still names the original bytes, and loading serves those, verified.
      const loaded = await registry.load(id);
      expect(loaded.cid).toBe((await cidOf(original)).toString());
    } finally {
      await writeFile(pimaFile, original);
    }
  });

  it('refuses content that does not hash to the anchored CID', async () => {
    const flipping: ContentStore = {
      ...content,
      put: (bytes) => content.put(bytes),
      has: (cid) => content.has(cid),
      async get(cid) {
        const bytes = new Uint8Array(await content.get(cid));
        bytes[100] ^= 0x01;
        return bytes;
      },
    };
    const registry = new ModelRegistry({ content: flipping, ledger, logger: silentLogger });
    const id = parseArtifact(await readFile(pimaFile), 'pima').modelId;
    await expect(registry.load(id)).rejects.toThrow(IntegrityError);
    await expect(registry.load(id)).rejects.toThrow(/hashes to .*: refused/);
  });

  it('refuses a model whose anchored metrics hash differs from its metrics', async () => {
    const bytes = await readFile(pimaFile);
    const artifact = parseArtifact(bytes, 'pima');
    const forged = { ...artifact, modelId: 'forged-metrics' };
    const forgedBytes = new TextEncoder().encode(JSON.stringify(forged));
    const cid = await content.put(forgedBytes);
    await ledger.anchorModel({
      modelId: modelKey('forged-metrics'),
      cid: cid.bytes,
      metricsHash: `0x${'11'.repeat(32)}`,
    });
    const registry = new ModelRegistry({ content, ledger, logger: silentLogger });
    await expect(registry.load('forged-metrics')).rejects.toThrow(/metrics hash/);
  });

  it('predicts for a patient from their chart, with roles enforced', async () => {
    const trainedModelsDir = path.join(dir, 'trained');
    const parameters = {
      content,
      ledger,
      chart,
      logger: silentLogger,
      modelsDir,
      trainedModelsDir,
      trainingJobs: new TrainingJobStore(dataSource),
    };
    const service = new ModelService({
      ...parameters,
      now: () => new Date('2025-06-01T00:00:00Z'),
      trainer: async (job, { onFold }) =>
        (await trainModel({ ...job, protocol: { ...job.protocol, repeats: 1 }, hooks: { onFold } })).artifact,
    });
    await service.start();
    const modelId = parseArtifact(await readFile(pimaFile), 'pima').modelId;
    charts.set(patientCaller.address, [
      { resourceType: 'Patient', id: 'me', gender: 'female', birthDate: '1980-01-01' },
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
        effectiveDateTime: '2025-05-01',
        valueQuantity: { value: 9.5, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      },
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '11996-6' }] },
        effectiveDateTime: '2025-05-01',
        valueQuantity: { value: 3, unit: '{#}', system: 'http://unitsofmeasure.org', code: '{#}' },
      },
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '39156-5' }] },
        effectiveDateTime: '2025-05-01',
        valueQuantity: { value: 35, unit: 'kg/m2', system: 'http://unitsofmeasure.org', code: 'kg/m2' },
      },
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] },
        effectiveDateTime: '2025-05-01',
        valueQuantity: { value: 80, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      },
    ]);
    const mine = await service.predictForPatient(patientCaller, patientCaller.address, modelId);
    const same = service.predict(patientCaller, modelId, {
      pregnancies: 3,
      glucose: 9.5 * 18.016,
      bmi: 35,
      blood_pressure: 80,
      age: 45,
    });
    expect(mine.probability).toBe(same.probability);
    expect(mine.anchorTx).toMatch(/^0x[0-9a-f]{64}$/);
    await expect(service.predictForPatient(analyst, patientCaller.address, modelId)).rejects.toThrow(
      ForbiddenError,
    );
    expect(() => service.predict(null, modelId, {})).toThrow(UnauthenticatedError);

    await expect(service.trainModel(patientCaller, 'cleveland', 'gnb')).rejects.toThrow(ForbiddenError);
    const trained = await service.trainModel(analyst, 'cleveland', 'gnb');
    expect(trained.artifact.modelId).toBe('cleveland-gnb');
    expect(trained.artifact.kind !== 'equation' && trained.artifact.evaluation.protocol.repeats).toBe(1);
    const anchor = await ledger.modelAnchor(modelKey('cleveland-gnb'));
    expect(CID.decode(anchor!.cid).toString()).toBe(trained.cid);
    expect(service.models().map((m) => m.artifact.modelId)).toContain('cleveland-gnb');
    // Written to the node's own directory, not over the shipped artifacts.
    const written = parseArtifact(
      await readFile(path.join(trainedModelsDir, 'cleveland-gnb.model.json')),
      'x',
    );
    expect(written.trainedAt).toBe(trained.artifact.trainedAt);
    await expect(readFile(path.join(modelsDir, 'cleveland-gnb.model.json'))).rejects.toThrow(/ENOENT/);
    await service.close();

    // A restarted node serves the model it trained, beside the shipped ones, with nothing refused.
    const restarted = new ModelService(parameters);
    const report = await restarted.start();
    expect(report.refused).toEqual([]);
    expect(report.served).toEqual(expect.arrayContaining(['cleveland-gnb', modelId]));
    expect(restarted.models().find((m) => m.artifact.modelId === 'cleveland-gnb')!.cid).toBe(trained.cid);
    await restarted.close();
  });
});
