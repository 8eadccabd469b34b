import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The table rate-limit windows are counted in (the layout RateLimiterPostgres expects; it is told the
 * table exists, so it never runs DDL itself), and a stable reason code on each alert so alerts carry
 * node-written text only. Written by hand; test/storage/migrations.int.test.ts checks it matches the
 * entities.
 */
export class RateLimitsAndAlertCodes1795700000000 implements MigrationInterface {
  name = 'RateLimitsAndAlertCodes1795700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "rate_limit" (
        "key" character varying(255) NOT NULL,
        "points" integer NOT NULL DEFAULT 0,
        "expire" bigint,
        CONSTRAINT "PK_rate_limit" PRIMARY KEY ("key"))`,
    );
    await queryRunner.query(`ALTER TABLE "access_alert" ADD "reason_code" character varying(32)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "access_alert" DROP COLUMN "reason_code"`);
    await queryRunner.query(`DROP TABLE "rate_limit"`);
  }
}
