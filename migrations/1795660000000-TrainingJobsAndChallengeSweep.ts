import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Training jobs, so a queued or running training survives a restart; indexes that keep sweeping
 * login challenges cheap. Written by hand; test/storage/migrations.int.test.ts checks it matches the
 * entities.
 */
export class TrainingJobsAndChallengeSweep1795660000000 implements MigrationInterface {
  name = 'TrainingJobsAndChallengeSweep1795660000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "training_job" (
        "id" uuid NOT NULL,
        "dataset" character varying(32) NOT NULL,
        "algorithm" character varying(32) NOT NULL,
        "state" character varying(16) NOT NULL,
        "folds_done" integer NOT NULL DEFAULT 0,
        "folds_total" integer,
        "requested_by" character varying(42) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "started_at" TIMESTAMP WITH TIME ZONE,
        "finished_at" TIMESTAMP WITH TIME ZONE,
        "error" text,
        "model_id" character varying(64),
        CONSTRAINT "PK_training_job" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_training_job_open" ON "training_job" ("state", "created_at") `,
    );
    await queryRunner.query(`CREATE INDEX "IDX_login_challenge_address" ON "login_challenge" ("address") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_login_challenge_expires_at" ON "login_challenge" ("expires_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_login_challenge_expires_at"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_login_challenge_address"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_training_job_open"`);
    await queryRunner.query(`DROP TABLE "training_job"`);
  }
}
