import type { DataSource } from 'typeorm';
import { AttestationEntity, OrganizationEntity } from './entities/index.js';

/** An organization as the owner admitted (or expelled) it on chain. */
export interface OrganizationRow {
  address: string;
  admitted: boolean;
  txHash: string;
  blockNumber: number;
}

/** The organization and attestation tables, as the chain's identity events leave them. */
export class AttestationStore {
  constructor(private readonly dataSource: DataSource) {}

  async organization(address: string): Promise<OrganizationEntity | null> {
    return this.dataSource.getRepository(OrganizationEntity).findOneBy({ address });
  }

  async attestation(subject: string): Promise<AttestationEntity | null> {
    return this.dataSource.getRepository(AttestationEntity).findOneBy({ subject });
  }

  /** The subject's attestation and whether its organization is admitted now (false when unknown). */
  async attestationWithOrganization(
    subject: string,
  ): Promise<{ attestation: AttestationEntity; organizationAdmitted: boolean } | null> {
    const row = await this.dataSource
      .createQueryBuilder(AttestationEntity, 'a')
      .leftJoin(OrganizationEntity, 'o', 'o.address = a.organization')
      .addSelect('o.admitted', 'admitted')
      .where('a.subject = :subject', { subject })
      .getRawAndEntities();
    const attestation = row.entities[0];
    if (!attestation) return null;
    return {
      attestation,
      organizationAdmitted: (row.raw[0] as { admitted: boolean | null }).admitted === true,
    };
  }

  async saveOrganization(row: OrganizationRow): Promise<void> {
    await this.dataSource.getRepository(OrganizationEntity).upsert(row, ['address']);
  }

  /** An Attested event: a later event for the subject wins; an older one retried changes nothing. */
  async adoptAttested(row: {
    subject: string;
    organization: string;
    role: string;
    identifier: string;
    expiresAt: Date;
    txHash: string;
    blockNumber: number;
  }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO attestation (subject, organization, role, identifier, expires_at, tx_hash, block_number)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (subject) DO UPDATE SET organization = EXCLUDED.organization, role = EXCLUDED.role,
              identifier = EXCLUDED.identifier, expires_at = EXCLUDED.expires_at, revoked_at = NULL,
              revoked_by = NULL, tx_hash = EXCLUDED.tx_hash, block_number = EXCLUDED.block_number
        WHERE attestation.block_number < EXCLUDED.block_number`,
      [row.subject, row.organization, row.role, row.identifier, row.expiresAt, row.txHash, row.blockNumber],
    );
  }

  /**
   * An AttestationRevoked event: revokes the subject's attestation made before it. Arriving before
   * the attestation it revokes (that event retried later), it leaves a revoked row at its own block,
   * so the late attestation (an older block) cannot reopen it.
   */
  async adoptRevocation(row: {
    subject: string;
    organization: string;
    revokedBy: string;
    txHash: string;
    blockNumber: number;
  }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO attestation (subject, organization, role, identifier, expires_at, revoked_at, revoked_by,
                                tx_hash, block_number)
       VALUES ($1, $2, '', '', now(), now(), $3, $4, $5)
       ON CONFLICT (subject) DO UPDATE SET revoked_at = now(), revoked_by = EXCLUDED.revoked_by
        WHERE attestation.block_number <= EXCLUDED.block_number AND attestation.revoked_at IS NULL`,
      [row.subject, row.organization, row.revokedBy, row.txHash, row.blockNumber],
    );
  }
}
