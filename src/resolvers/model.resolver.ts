import { GraphQLJSON } from 'graphql-scalars';
import { checksumAddress } from '../ledger/address.js';
import { Arg, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { LoadedModel } from '../ml/model-service.js';
import type { Prediction as PredictionResult } from '../ml/prediction-service.js';
import type { TrainingJobEntity } from '../storage/entities/index.js';
import { populationOf, positiveOf } from '../ml/artifact.js';
import type { ModelAnswer as ModelAnswerResult } from '../ml/prediction-service.js';
import { Model, ModelAnswer, ModelAnswerStatusName, Prediction } from '../schema/model.type.js';
import { TrainingJob, TrainingStateName } from '../schema/training.type.js';
import type { RequestContext } from './context.js';

export function toModel({ artifact, cid, metricsHash, anchor }: LoadedModel): Model {
  const population = populationOf(artifact);
  const common = {
    id: artifact.modelId,
    features: artifact.features.map((f) => ({
      name: f.name,
      description: f.description,
      unit: f.unit,
      kind: f.kind,
      min: f.range[0],
      max: f.range[1],
      loinc:
        f.chart?.kind === 'observation' || f.chart?.kind === 'coded-observation' ? [...f.chart.loinc] : [],
      chartSource: f.chart?.kind ?? null,
    })),
    population: {
      description: population?.description ?? '',
      minAge: population?.age?.[0] ?? null,
      maxAge: population?.age?.[1] ?? null,
      sex: population?.sex ?? null,
    },
    positiveLabel: positiveOf(artifact),
    cid,
    metricsHash,
    anchorTx: anchor.txHash,
    anchorBlock: anchor.blockNumber,
    trainedAt: new Date(artifact.trainedAt),
  };
  if (artifact.kind === 'equation') {
    return {
      ...common,
      kind: 'equation',
      dataset: artifact.equation,
      datasetTitle: artifact.title,
      datasetSha256: null,
      algorithm: 'equation',
      algorithmTitle: artifact.title,
      engine: 'omnichart (published coefficients)',
      hyperParameters: null,
      reference: artifact.reference,
      validation: artifact.validation,
      coefficients: artifact.model,
      metrics: null,
      evaluation: null,
      calibration: { method: artifact.calibration.method, brier: null, reliability: [] },
      comparison: null,
      cohort: null,
    };
  }
  return {
    ...common,
    kind: 'trained',
    dataset: artifact.dataset.id,
    datasetTitle: artifact.dataset.title,
    datasetSha256: artifact.dataset.sha256,
    algorithm: artifact.algorithm.id,
    algorithmTitle: artifact.algorithm.title,
    engine: artifact.algorithm.engine,
    hyperParameters: artifact.hyperParameters,
    reference: null,
    validation: null,
    coefficients: null,
    metrics: artifact.metrics,
    evaluation: {
      method: artifact.evaluation.method,
      folds: artifact.evaluation.protocol.folds,
      repeats: artifact.evaluation.protocol.repeats,
      innerFolds: artifact.evaluation.protocol.innerFolds,
      seed: artifact.evaluation.protocol.seed,
    },
    // Artifacts trained before calibration was recorded carry none: their card says so.
    calibration: artifact.calibration
      ? {
          method: artifact.calibration.method,
          brier: artifact.calibration.brier,
          reliability: artifact.calibration.reliability,
        }
      : { method: 'not recorded (trained before calibration was measured)', brier: null, reliability: [] },
    comparison: artifact.comparison ?? null,
    cohort: artifact.cohort
      ? {
          ...artifact.cohort,
          organization: checksumAddress(artifact.cohort.organization),
          requestedBy: checksumAddress(artifact.cohort.requestedBy),
        }
      : null,
  };
}

function toPrediction(result: PredictionResult): Prediction {
  return { ...result, sources: result.sources };
}

function toModelAnswer(answer: ModelAnswerResult): ModelAnswer {
  return {
    ...answer,
    status: answer.status as ModelAnswerStatusName,
    prediction: answer.prediction && toPrediction(answer.prediction),
  };
}

@Resolver()
export class ModelResolver {
  @Query(() => [Model], {
    description: 'Model cards: dataset, algorithm, features, cross-validated metrics, anchor',
  })
  models(@Ctx() ctx: RequestContext): Model[] {
    return ctx.services.models.models().map(toModel);
  }

  @Query(() => Prediction, {
    description: 'Scores a feature vector { name: number | null } with a served model',
  })
  async predict(
    @Arg('model', () => String) model: string,
    @Arg('features', () => GraphQLJSON) features: unknown,
    @Ctx() ctx: RequestContext,
  ): Promise<Prediction> {
    return toPrediction(ctx.services.models.predict(await ctx.optionalCaller(), model, features));
  }

  @Query(() => Prediction, { description: "Builds the features from the patient's chart, then predicts" })
  async predictForPatient(
    @Arg('patient', () => String) patient: string,
    @Arg('model', () => String) model: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Prediction> {
    const caller = await ctx.optionalCaller();
    return toPrediction(await ctx.services.models.predictForPatient(caller, patient, model, ctx.decryptions));
  }

  @Query(() => [ModelAnswer], {
    description:
      "Every served model on the patient's chart: the answer of each model the chart supports, and for the others exactly what is missing or why the model does not apply",
  })
  async predictionsForPatient(
    @Arg('patient', () => String) patient: string,
    @Ctx() ctx: RequestContext,
  ): Promise<ModelAnswer[]> {
    const caller = await ctx.optionalCaller();
    const answers = await ctx.services.models.predictionsForPatient(caller, patient, ctx.decryptions);
    return answers.map(toModelAnswer);
  }

  @Mutation(() => Model, {
    description:
      'ADMIN/ANALYST: cross-validates, fits, anchors and serves a model, answering when done (minutes for a forest); startTraining answers at once',
  })
  async trainModel(
    @Arg('dataset', () => String) dataset: string,
    @Arg('algorithm', () => String) algorithm: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Model> {
    return toModel(await ctx.services.models.trainModel(await ctx.optionalCaller(), dataset, algorithm));
  }

  @Mutation(() => TrainingJob, {
    description: 'ADMIN/ANALYST: queues a training run and answers at once; follow it with trainingProgress',
  })
  async startTraining(
    @Arg('dataset', () => String) dataset: string,
    @Arg('algorithm', () => String) algorithm: string,
    @Ctx() ctx: RequestContext,
  ): Promise<TrainingJob> {
    return toTrainingJob(
      await ctx.services.models.startTraining(await ctx.optionalCaller(), dataset, algorithm),
      ctx,
    );
  }

  @Query(() => TrainingJob, { description: "ADMIN/ANALYST: a training job's state and progress" })
  async trainingJob(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<TrainingJob> {
    return toTrainingJob(await ctx.services.models.trainingJob(await ctx.optionalCaller(), id), ctx);
  }

  @Subscription(() => TrainingJob, {
    description: 'ADMIN/ANALYST: the job now, then after every finished fold, until it SUCCEEDED or FAILED',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      return ctx.services.models.watchTraining(await ctx.optionalCaller(), String(args.id));
    },
  })
  trainingProgress(
    @Root() job: TrainingJobEntity,
    @Arg('id', () => ID) _id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<TrainingJob> {
    return toTrainingJob(job, ctx);
  }
}

async function toTrainingJob(job: TrainingJobEntity, ctx: RequestContext): Promise<TrainingJob> {
  const model = job.modelId ? await ctx.services.models.registry.load(job.modelId).catch(() => null) : null;
  return {
    id: job.id,
    dataset: job.dataset,
    algorithm: job.algorithm,
    state: job.state as TrainingStateName,
    foldsDone: job.foldsDone,
    foldsTotal: job.foldsTotal,
    requestedBy: checksumAddress(job.requestedBy),
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    error: job.error,
    model: model && toModel(model),
  };
}
