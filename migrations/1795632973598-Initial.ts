import { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795632973598 implements MigrationInterface {
  name = 'Initial1795632973598';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "account" ("address" character varying(42) NOT NULL, "role" character varying(16) NOT NULL, "display_name" character varying(200) NOT NULL, "box_public_key" character varying(64) NOT NULL, "registration_issued_at" TIMESTAMP WITH TIME ZONE NOT NULL, "registration_signature" character varying(140) NOT NULL, "key_anchor_tx" character varying(66), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_83603c168bc00b20544539fbea6" PRIMARY KEY ("address"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "anchor_outbox" ("id" BIGSERIAL NOT NULL, "record_id" uuid NOT NULL, "version" integer NOT NULL, "patient" character varying(42) NOT NULL, "cid" character varying(128) NOT NULL, "tx_hash" character varying(66), "attempts" integer NOT NULL DEFAULT '0', "last_error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_943f095b57e957ee2de8af2505c" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_0ec9e5668a2631f953012734f2" ON "anchor_outbox"  ("record_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "login_challenge" ("nonce" character varying(64) NOT NULL, "address" character varying(42) NOT NULL, "message" text NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_b1ebee090294eff53414caedb8b" PRIMARY KEY ("nonce"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "patient_alias" ("source" character varying(42) NOT NULL, "reference" character varying(256) NOT NULL, "patient" character varying(42) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_07ce60837777b46bc6c53580609" PRIMARY KEY ("source", "reference"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "record_version" ("record_id" uuid NOT NULL, "version" integer NOT NULL, "cid" character varying(128) NOT NULL, "envelope_bytes" integer NOT NULL, "author" character varying(42) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "anchor_tx" character varying(66), "anchor_block" integer, "anchored_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_a191411d3941bb205c38ff49bd8" PRIMARY KEY ("record_id", "version"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "record" ("id" uuid NOT NULL, "patient" character varying(42) NOT NULL, "resource_type" character varying(64) NOT NULL, "source_id" character varying(128), "author" character varying(42) NOT NULL, "current_version" integer NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_5cb1f4d1aff275cf9001f4343b9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_603ea3bf64f6f5fb62f14f90b6" ON "record"  ("patient", "resource_type") `,
    );
    await queryRunner.query(
      `CREATE TABLE "session" ("id" uuid NOT NULL, "token_hash" character(64) NOT NULL, "address" character varying(42) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_f55da76ac1c3ac420f444d2ff11" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_a83507eb0338ac037780e02f2b" ON "session"  ("token_hash") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_a83507eb0338ac037780e02f2b"`);
    await queryRunner.query(`DROP TABLE "session"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_603ea3bf64f6f5fb62f14f90b6"`);
    await queryRunner.query(`DROP TABLE "record"`);
    await queryRunner.query(`DROP TABLE "record_version"`);
    await queryRunner.query(`DROP TABLE "patient_alias"`);
    await queryRunner.query(`DROP TABLE "login_challenge"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_0ec9e5668a2631f953012734f2"`);
    await queryRunner.query(`DROP TABLE "anchor_outbox"`);
    await queryRunner.query(`DROP TABLE "account"`);
  }
}
