import type { DataSource } from 'typeorm';
import { AccountEntity } from './entities/index.js';

/** A registration as the account signed it, ready to store. */
export interface RegistrationRow {
  address: string;
  role: AccountEntity['role'];
  displayName: string;
  /** base64 X25519 public key. */
  boxPublicKey: string;
  issuedAt: Date;
  signature: string;
  keyAnchorTx: string | null;
}

/** The account table: registrations, as signed and anchored. */
export class AccountStore {
  constructor(private readonly dataSource: DataSource) {}

  async find(address: string): Promise<AccountEntity | null> {
    return this.dataSource.getRepository(AccountEntity).findOneBy({ address });
  }

  async isPatient(address: string): Promise<boolean> {
    return this.dataSource.getRepository(AccountEntity).exists({ where: { address, role: 'PATIENT' } });
  }

  /**
   * Writes a registration unless the stored one is as new (or has another role); true when written.
   * One statement, because the node's own chain indexer adopts the AccountRegistered event of a local
   * registration, possibly while the registration itself is still being saved (a read-then-insert
   * would collide on the address).
   */
  async saveRegistration(row: RegistrationRow): Promise<boolean> {
    const written: unknown[] = await this.dataSource.query(
      // registeredAt is the signed issue time, not the insert time, so a rebuilt cache answers the same.
      `INSERT INTO account (address, role, display_name, box_public_key, registration_issued_at,
                            registration_signature, key_anchor_tx, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $5)
       ON CONFLICT (address) DO UPDATE SET display_name = EXCLUDED.display_name,
              box_public_key = EXCLUDED.box_public_key, registration_issued_at = EXCLUDED.registration_issued_at,
              registration_signature = EXCLUDED.registration_signature, key_anchor_tx = EXCLUDED.key_anchor_tx,
              updated_at = now()
        WHERE account.registration_issued_at < EXCLUDED.registration_issued_at AND account.role = EXCLUDED.role
       RETURNING address`,
      [
        row.address,
        row.role,
        row.displayName,
        row.boxPublicKey,
        row.issuedAt,
        row.signature,
        row.keyAnchorTx,
      ],
    );
    return written.length > 0;
  }
}
