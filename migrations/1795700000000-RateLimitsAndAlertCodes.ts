import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The table rate-limit windows are counted in (the layout RateLimiterPostgres expects; it is told the
 * table exists, so it never runs DDL itself). UNLOGGED: every request writes it, and a WAL flush per
 * request cost milliseconds; counters survive a clean restart and are emptied only by a Postgres
 * crash, which at worst grants a fresh window. And a stable reason code on each alert so alerts carry
 * node-written text only. Written by hand; test/storage/migrations.int.test.ts checks it matches the
 * entities.
 */
export class RateLimitsAndAlertCodes1795700000000 implements MigrationInterface {
  name = 'RateLimitsAndAlertCodes1795700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE UNLOGGED TABLE "rate_limit" (
        "key" character varying(255) NOT NULL,
        "points" integer NOT NULL DEFAULT 0,
        "expire" bigint,
        CONSTRAINT "PK_rate_limit" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(`ALTER TABLE "access_alert" ADD "reason_code" character varying(32)`);
    // Older denials may hold a caller-chosen type, in the type column and in the reason: both are
    // rewritten from node-chosen parts. Break-glass reasons are the practitioners' words and stay.
    await queryRunner.query(
      `UPDATE "access_alert" SET "reason_code" = CASE
          WHEN "kind" = 'BREAK_GLASS' THEN 'PRACTITIONER_STATEMENT'
          WHEN "kind" = 'BREAK_GLASS_ENDED' THEN 'BREAK_GLASS_ENDED'
          WHEN "reason" LIKE 'only the patient may %' THEN 'PATIENT_ONLY'
          ELSE 'NO_GRANT' END`,
    );
    await queryRunner.query(
      `UPDATE "access_alert" SET "resource_type" = NULL,
          "reason" = CASE WHEN "reason_code" = 'PATIENT_ONLY'
            THEN 'Access refused: only you may ' || "action" || ' this chart.'
            ELSE 'Access refused: no active grant from you covers ' || "action" || '.' END
        WHERE "kind" = 'DENIED'`,
    );
    await queryRunner.query(`ALTER TABLE "access_alert" ALTER COLUMN "reason_code" SET NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "access_alert" DROP COLUMN "reason_code"`);
    await queryRunner.query(`DROP TABLE "rate_limit"`);
  }
}
