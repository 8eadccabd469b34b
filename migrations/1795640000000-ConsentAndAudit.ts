import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Grants cache, key shares for grantees, hash-chained audit entries with their anchored Merkle batches, the indexer cursor. */
export class ConsentAndAudit1795640000000 implements MigrationInterface {
  name = 'ConsentAndAudit1795640000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "access_grant" ("id" character varying(80) NOT NULL, "kind" character varying(16) NOT NULL, "patient" character varying(42) NOT NULL, "grantee" character varying(42) NOT NULL, "scopes" text NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, "reason" text, "created_tx" character varying(66), "created_block" integer, "revoked_tx" character varying(66), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2c12ba789e7748324e87e103a41" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_e2c5c7eb75b2cbeed806c89ced" ON "access_grant" ("patient", "grantee")`,
    );
    await queryRunner.query(
      `CREATE TABLE "audit_entry" ("patient" character varying(42) NOT NULL, "seq" integer NOT NULL, "actor" character varying(42) NOT NULL, "action" character varying(16) NOT NULL, "resource_type" character varying(64), "record_id" uuid, "outcome" character varying(16) NOT NULL, "purpose" character varying(500), "reason" character varying(500), "at" TIMESTAMP WITH TIME ZONE NOT NULL, "prev_hash" character(64) NOT NULL, "hash" character(64) NOT NULL, "batch_id" integer, CONSTRAINT "PK_036b2229c0639bde751a4c5be1c" PRIMARY KEY ("patient", "seq"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_2915c0b86db2648bdeb113598f" ON "audit_entry" ("patient", "batch_id")`,
    );
    await queryRunner.query(
      `CREATE TABLE "audit_batch" ("id" SERIAL NOT NULL, "patient" character varying(42) NOT NULL, "first_seq" integer NOT NULL, "last_seq" integer NOT NULL, "root" character(64) NOT NULL, "anchor_tx" character varying(66) NOT NULL, "anchor_block" integer NOT NULL, CONSTRAINT "PK_06ac7a69ac285d6a8e2824980b4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_588752bc38c64db04c3c0c0d62" ON "audit_batch" ("patient", "first_seq")`,
    );
    await queryRunner.query(
      `CREATE TABLE "chain_cursor" ("name" character varying(64) NOT NULL, "block_number" integer NOT NULL, CONSTRAINT "PK_66395fb0efa11803f8a76034dc2" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "record_key_share" ("record_id" uuid NOT NULL, "version" integer NOT NULL, "grantee" character varying(42) NOT NULL, "cid" character varying(128) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_record_key_share" PRIMARY KEY ("record_id", "version", "grantee"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "record_key_share"`);
    await queryRunner.query(`DROP TABLE "chain_cursor"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_588752bc38c64db04c3c0c0d62"`);
    await queryRunner.query(`DROP TABLE "audit_batch"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_2915c0b86db2648bdeb113598f"`);
    await queryRunner.query(`DROP TABLE "audit_entry"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_e2c5c7eb75b2cbeed806c89ced"`);
    await queryRunner.query(`DROP TABLE "access_grant"`);
  }
}
