import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Record versions refused on adoption (continuity, entitlement, author signature), whether this node
 * checked a version's author signature, and the block a grant was revoked in (entitlement is judged
 * at the anchor block). Written by hand; test/storage/migrations.int.test.ts checks it matches the
 * entities.
 */
export class RecordQuarantine1795680000000 implements MigrationInterface {
  name = 'RecordQuarantine1795680000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "record_quarantine" (
        "id" SERIAL NOT NULL,
        "record_id" uuid NOT NULL,
        "version" integer NOT NULL,
        "cid" character varying(128) NOT NULL,
        "patient" character varying(42) NOT NULL,
        "author" character varying(42),
        "anchor_tx" character varying(66) NOT NULL,
        "anchor_block" integer NOT NULL,
        "reason" character varying(32) NOT NULL,
        "detail" text NOT NULL,
        "quarantined_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_record_quarantine" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_record_quarantine_version" ON "record_quarantine" ("record_id", "version", "cid") `,
    );
    await queryRunner.query(
      `ALTER TABLE "record_version" ADD "author_verified" boolean NOT NULL DEFAULT false`,
    );
    await queryRunner.query(`ALTER TABLE "access_grant" ADD "revoked_block" integer`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "access_grant" DROP COLUMN "revoked_block"`);
    await queryRunner.query(`ALTER TABLE "record_version" DROP COLUMN "author_verified"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_record_quarantine_version"`);
    await queryRunner.query(`DROP TABLE "record_quarantine"`);
  }
}
