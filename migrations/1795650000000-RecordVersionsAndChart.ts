import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Record identity (re-imports dedupe), version links, and the chart's searchable metadata.
 * Written by hand; test/storage/migrations.int.test.ts checks it matches the entities.
 */
export class RecordVersionsAndChart1795650000000 implements MigrationInterface {
  name = 'RecordVersionsAndChart1795650000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "record" ADD "source_key" character varying(512)`);
    await queryRunner.query(`ALTER TABLE "record" ADD "full_url" character varying(512)`);
    await queryRunner.query(`ALTER TABLE "record" ADD "effective_at" TIMESTAMP WITH TIME ZONE`);
    // Rows written before this migration have no identity and sort by their write time.
    await queryRunner.query(`UPDATE "record" SET "effective_at" = "created_at"`);
    await queryRunner.query(`ALTER TABLE "record" ALTER COLUMN "effective_at" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "record" ADD "codes" text array NOT NULL DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "record" ALTER COLUMN "codes" DROP DEFAULT`);
    await queryRunner.query(`ALTER TABLE "record" ADD "status" character varying(64)`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_record_identity" ON "record" ("patient", "author", "resource_type", "source_key") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_record_timeline" ON "record" ("patient", "effective_at", "id") `,
    );
    await queryRunner.query(`ALTER TABLE "record_version" ADD "content_hmac" character(64)`);
    await queryRunner.query(`ALTER TABLE "record_version" ADD "previous_cid" character varying(128)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "record_version" DROP COLUMN "previous_cid"`);
    await queryRunner.query(`ALTER TABLE "record_version" DROP COLUMN "content_hmac"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_record_timeline"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_record_identity"`);
    await queryRunner.query(`ALTER TABLE "record" DROP COLUMN "status"`);
    await queryRunner.query(`ALTER TABLE "record" DROP COLUMN "codes"`);
    await queryRunner.query(`ALTER TABLE "record" DROP COLUMN "effective_at"`);
    await queryRunner.query(`ALTER TABLE "record" DROP COLUMN "full_url"`);
    await queryRunner.query(`ALTER TABLE "record" DROP COLUMN "source_key"`);
  }
}
