import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Objects waiting to be pinned to the configured Kubo or IPFS Cluster (empty when none is). Written by
 * hand; test/storage/migrations.int.test.ts checks it matches the entities.
 */
export class PinOutbox1796500000000 implements MigrationInterface {
  name = 'PinOutbox1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "pin_outbox" (
        "cid" character varying(128) NOT NULL,
        "attempts" integer NOT NULL DEFAULT 0,
        "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "last_error" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_pin_outbox" PRIMARY KEY ("cid"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_pin_outbox_due" ON "pin_outbox" ("next_attempt_at") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_pin_outbox_due"`);
    await queryRunner.query(`DROP TABLE "pin_outbox"`);
  }
}
