import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Grants by grantee: a research query reads every consent grant made to one organization. Written by
 * hand; test/storage/migrations.int.test.ts checks it matches the entities.
 */
export class GrantsByGrantee1796600000000 implements MigrationInterface {
  name = 'GrantsByGrantee1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "IDX_access_grant_grantee" ON "access_grant" ("grantee") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_access_grant_grantee"`);
  }
}
