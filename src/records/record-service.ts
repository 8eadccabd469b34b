import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { CID } from 'multiformats/cid';
import type { DataSource, EntityManager } from 'typeorm';
import type { Caller } from '../auth/caller.js';
import type { Policy } from '../auth/policy.js';
import { BadUserInputError, IntegrityError, NotFoundError } from '../errors.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { ContentStore } from '../storage/content-store.js';
import {
  AccountEntity,
  AnchorOutboxEntity,
  PatientAliasEntity,
  RecordEntity,
  RecordVersionEntity,
} from '../storage/entities/index.js';
import { openRecord, sealRecord } from '../storage/envelope.js';
import { cidOf } from '../storage/helia-content-store.js';
import type { NodeKeys } from '../storage/node-keys.js';
import { normalizeAddress } from '../auth/address.js';
import { parseFhirResource, patientReferencesOf } from './fhir-validation.js';
import { StageTimer } from './stage-timer.js';

/** What is sealed inside an envelope: the resource plus the identity it was stored under. */
export interface SealedPayload {
  recordId: string;
  version: number;
  patient: string;
  resource: Resource;
}

export interface RecordProof {
  recordId: string;
  version: number;
  cid: string;
  /** The stored bytes hash to the CID. */
  contentMatchesCid: boolean;
  /** The envelope authenticates and opens with the node key. */
  decrypts: boolean;
  anchorTx: string | null;
  anchorBlock: number | null;
  /** The CID the chain event carries, when anchored. */
  chainCid: string | null;
  anchorMatches: boolean;
  verified: boolean;
}

export interface RecordServiceOptions {
  dataSource: DataSource;
  content: ContentStore;
  ledger: Ledger;
  keys: NodeKeys;
  policy: Policy;
  limits: { maxResourceBytes: number; maxJsonDepth: number };
  /** Told after each commit so the anchor queue need not poll. */
  onRecordWritten?: () => void;
  timer?: StageTimer;
}

/** Writes and reads encrypted FHIR records through all four stores. */
export class RecordService {
  readonly timer: StageTimer;

  constructor(private readonly options: RecordServiceOptions) {
    this.timer = options.timer ?? new StageTimer();
  }

  async addRecord(caller: Caller, patientInput: string, resourceInput: unknown): Promise<RecordEntity> {
    const { dataSource, content, keys, policy, limits, onRecordWritten } = this.options;
    const timer = this.timer;
    const patient = normalizeAddress(patientInput, 'patient');
    const resource = timer.time('validate', () => parseFhirResource(resourceInput, limits));
    policy.assertMayAccessChart(caller, patient, 'create');
    const patientAccount = await this.patientAccount(patient);

    const recordId = randomUUID();
    const payload: SealedPayload = { recordId, version: 1, patient, resource };
    const envelope = timer.time('seal', () =>
      sealRecord({
        plaintext: Buffer.from(JSON.stringify(payload)),
        recipients: [
          { boxPublicKey: new Uint8Array(Buffer.from(patientAccount.boxPublicKey, 'base64')) },
          { boxPublicKey: keys.boxPublicKey },
        ],
      }),
    );
    const cid = (await timer.timeAsync('ipfsAdd', () => content.put(envelope))).toString();

    const record = await timer.timeAsync('postgres', () =>
      dataSource.transaction(async (tx) => {
        await linkPatientAliases(tx, caller.address, patient, patientReferencesOf(resource));
        const row = tx.create(RecordEntity, {
          id: recordId,
          patient,
          resourceType: resource.resourceType,
          sourceId: typeof resource.id === 'string' ? resource.id.slice(0, 128) : null,
          author: caller.address,
          currentVersion: 1,
        });
        await tx.insert(RecordEntity, row);
        await tx.insert(RecordVersionEntity, {
          recordId,
          version: 1,
          cid,
          envelopeBytes: envelope.length,
          author: caller.address,
        });
        await tx.insert(AnchorOutboxEntity, { recordId, version: 1, patient, cid });
        return tx.findOneByOrFail(RecordEntity, { id: recordId });
      }),
    );
    onRecordWritten?.();
    return record;
  }

  /** Record metadata the caller may see; content is read separately so metadata-only queries stay cheap. */
  async getRecord(
    caller: Caller,
    idInput: string,
    action: 'read' | 'verify' = 'read',
  ): Promise<RecordEntity> {
    const id = parseRecordId(idInput);
    const record = await this.options.dataSource.getRepository(RecordEntity).findOneBy({ id });
    if (!record) throw new NotFoundError(`no record ${id}`);
    this.options.policy.assertMayAccessChart(caller, record.patient, action);
    return record;
  }

  async versions(recordId: string): Promise<RecordVersionEntity[]> {
    return this.options.dataSource
      .getRepository(RecordVersionEntity)
      .find({ where: { recordId }, order: { version: 'DESC' } });
  }

  async currentVersion(record: RecordEntity): Promise<RecordVersionEntity> {
    return this.options.dataSource
      .getRepository(RecordVersionEntity)
      .findOneByOrFail({ recordId: record.id, version: record.currentVersion });
  }

  /** Fetches, authenticates and decrypts one version; IntegrityError when anything does not match. */
  async readResource(record: RecordEntity, version = record.currentVersion): Promise<Resource> {
    const row = await this.options.dataSource
      .getRepository(RecordVersionEntity)
      .findOneByOrFail({ recordId: record.id, version });
    const envelope = await this.timer.timeAsync('ipfsGet', () =>
      this.options.content.get(CID.parse(row.cid)),
    );
    const payload = this.timer.time('open', () => this.openPayload(envelope));
    if (payload.recordId !== record.id || payload.version !== version || payload.patient !== record.patient) {
      throw new IntegrityError(`envelope ${row.cid} was sealed for another record version`);
    }
    return payload.resource;
  }

  async verifyRecord(caller: Caller, idInput: string): Promise<RecordProof> {
    const record = await this.getRecord(caller, idInput, 'verify');
    const row = await this.currentVersion(record);
    const proof: RecordProof = {
      recordId: record.id,
      version: row.version,
      cid: row.cid,
      contentMatchesCid: false,
      decrypts: false,
      anchorTx: row.anchorTx,
      anchorBlock: row.anchorBlock,
      chainCid: null,
      anchorMatches: false,
      verified: false,
    };
    try {
      const envelope = await this.options.content.get(CID.parse(row.cid));
      proof.contentMatchesCid = (await cidOf(envelope)).toString() === row.cid;
      const payload = this.openPayload(envelope);
      proof.decrypts = payload.recordId === record.id && payload.version === row.version;
    } catch (error) {
      if (!(error instanceof IntegrityError || error instanceof NotFoundError)) throw error;
    }
    if (row.anchorTx) {
      const events = await this.options.ledger.anchorsInTransaction(row.anchorTx);
      const event = events.find((e) => e.recordId === record.id && e.version === row.version);
      if (event) {
        proof.chainCid = CID.decode(event.cid).toString();
        proof.anchorMatches = proof.chainCid === row.cid && event.patient.toLowerCase() === record.patient;
      }
    }
    proof.verified = proof.contentMatchesCid && proof.decrypts && proof.anchorMatches;
    return proof;
  }

  private openPayload(envelope: Uint8Array): SealedPayload {
    const plaintext = openRecord({ envelope, boxSecretKey: this.options.keys.boxSecretKey });
    return JSON.parse(Buffer.from(plaintext).toString('utf8')) as SealedPayload;
  }

  private async patientAccount(patient: string): Promise<AccountEntity> {
    const account = await this.options.dataSource
      .getRepository(AccountEntity)
      .findOneBy({ address: patient });
    if (!account || account.role !== 'PATIENT') {
      throw new NotFoundError(`no patient account is registered for ${patient}`);
    }
    return account;
  }
}

/**
 * Remembers which patient each of the source's Patient references denotes, and refuses a resource whose
 * Patient reference is already linked to another patient. Runs inside the write's transaction.
 */
async function linkPatientAliases(
  tx: EntityManager,
  source: string,
  patient: string,
  references: string[],
): Promise<void> {
  for (const reference of references) {
    await tx
      .createQueryBuilder()
      .insert()
      .into(PatientAliasEntity)
      .values({ source, reference, patient })
      .orIgnore()
      .execute();
    const alias = await tx.findOneByOrFail(PatientAliasEntity, { source, reference });
    if (alias.patient !== patient) {
      throw new BadUserInputError(`${reference} is already linked to another patient's chart`, {
        reason: 'PATIENT_MISMATCH',
        reference,
      });
    }
  }
}

function parseRecordId(id: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
    throw new BadUserInputError('id must be a record id (UUID) returned by addRecord', { field: 'id' });
  }
  return id.toLowerCase();
}
