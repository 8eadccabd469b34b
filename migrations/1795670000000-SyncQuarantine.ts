import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Chain events whose handler failed, kept for retry so one bad event never holds the indexer's
 * cursor back. Written by hand; test/storage/migrations.int.test.ts checks it matches the entities.
 */
export class SyncQuarantine1795670000000 implements MigrationInterface {
  name = 'SyncQuarantine1795670000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "sync_quarantine" (
        "event_key" character varying(40) NOT NULL,
        "block_number" integer NOT NULL,
        "log_index" integer NOT NULL,
        "event_type" character varying(32) NOT NULL,
        "event" jsonb NOT NULL,
        "error" text NOT NULL,
        "attempts" integer NOT NULL DEFAULT 1,
        "first_failed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_sync_quarantine" PRIMARY KEY ("event_key"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_sync_quarantine_next_attempt_at" ON "sync_quarantine" ("next_attempt_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_sync_quarantine_next_attempt_at"`);
    await queryRunner.query(`DROP TABLE "sync_quarantine"`);
  }
}
