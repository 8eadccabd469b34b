import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Replicas of one node on one database: an anchor outbox row names the replica that signed its
 * transaction (so another replica leaves a live signer's batch alone), and a chain cursor says when
 * it was last written (followers read the leader's indexer lag from it). Written by hand;
 * test/storage/migrations.int.test.ts checks it matches the entities.
 */
export class Replicas1796700000000 implements MigrationInterface {
  name = 'Replicas1796700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "anchor_outbox" ADD "signed_by" integer`);
    await queryRunner.query(
      `ALTER TABLE "chain_cursor" ADD "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "chain_cursor" DROP COLUMN "updated_at"`);
    await queryRunner.query(`ALTER TABLE "anchor_outbox" DROP COLUMN "signed_by"`);
  }
}
