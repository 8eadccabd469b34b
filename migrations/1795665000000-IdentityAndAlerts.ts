import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Verified identities and persistent alerts: organizations the operator admitted, attestations they
 * made, patients' break-glass policies (all mirrored from chain events), and the patient's alert list.
 * Written by hand; test/storage/migrations.int.test.ts checks it matches the entities.
 */
export class IdentityAndAlerts1795665000000 implements MigrationInterface {
  name = 'IdentityAndAlerts1795665000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "organization" (
        "address" character varying(42) NOT NULL,
        "admitted" boolean NOT NULL,
        "tx_hash" character varying(66) NOT NULL,
        "block_number" integer NOT NULL,
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_organization" PRIMARY KEY ("address"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "attestation" (
        "subject" character varying(42) NOT NULL,
        "organization" character varying(42) NOT NULL,
        "role" character varying(16) NOT NULL,
        "identifier" text NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "revoked_at" TIMESTAMP WITH TIME ZONE,
        "revoked_by" character varying(42),
        "tx_hash" character varying(66) NOT NULL,
        "block_number" integer NOT NULL,
        CONSTRAINT "PK_attestation" PRIMARY KEY ("subject"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_attestation_organization" ON "attestation" ("organization") `);
    await queryRunner.query(
      `CREATE TABLE "break_glass_policy" (
        "patient" character varying(42) NOT NULL,
        "refuse" boolean NOT NULL,
        "tx_hash" character varying(66) NOT NULL,
        "block_number" integer NOT NULL,
        CONSTRAINT "PK_break_glass_policy" PRIMARY KEY ("patient"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "access_alert" (
        "id" BIGSERIAL NOT NULL,
        "patient" character varying(42) NOT NULL,
        "kind" character varying(24) NOT NULL,
        "actor" character varying(42) NOT NULL,
        "action" character varying(16) NOT NULL,
        "resource_type" character varying(64),
        "reason" text,
        "break_glass_id" character varying(80),
        "organization" character varying(42),
        "tx_hash" character varying(66),
        "at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_access_alert" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_access_alert_break_glass" ON "access_alert" ("break_glass_id", "kind") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_access_alert_patient_at" ON "access_alert" ("patient", "at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_access_alert_patient_at"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_access_alert_break_glass"`);
    await queryRunner.query(`DROP TABLE "access_alert"`);
    await queryRunner.query(`DROP TABLE "break_glass_policy"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_attestation_organization"`);
    await queryRunner.query(`DROP TABLE "attestation"`);
    await queryRunner.query(`DROP TABLE "organization"`);
  }
}
