import { GraphQLJSON } from 'graphql-scalars';
import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { LoadedModel } from '../ml/model-service.js';
import type { Prediction as PredictionResult } from '../ml/prediction-service.js';
import { Model, Prediction } from '../schema/model.type.js';
import type { RequestContext } from './context.js';

export function toModel({ artifact, cid, metricsHash, anchor }: LoadedModel): Model {
  return {
    id: artifact.modelId,
    dataset: artifact.dataset.id,
    datasetTitle: artifact.dataset.title,
    datasetSha256: artifact.dataset.sha256,
    positiveLabel: artifact.dataset.positive,
    algorithm: artifact.algorithm.id,
    algorithmTitle: artifact.algorithm.title,
    engine: artifact.algorithm.engine,
    hyperParameters: artifact.hyperParameters,
    features: artifact.features.map((f) => ({
      name: f.name,
      description: f.description,
      unit: f.unit,
      kind: f.kind,
      min: f.range[0],
      max: f.range[1],
      loinc: f.chart?.kind === 'observation' ? [...f.chart.loinc] : [],
      chartSource: f.chart?.kind ?? null,
    })),
    metrics: artifact.metrics,
    evaluation: {
      method: artifact.evaluation.method,
      folds: artifact.evaluation.protocol.folds,
      repeats: artifact.evaluation.protocol.repeats,
      innerFolds: artifact.evaluation.protocol.innerFolds,
      seed: artifact.evaluation.protocol.seed,
    },
    cid,
    metricsHash,
    anchorTx: anchor.txHash,
    anchorBlock: anchor.blockNumber,
    trainedAt: new Date(artifact.trainedAt),
  };
}

function toPrediction(result: PredictionResult): Prediction {
  return { ...result, sources: result.sources };
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
    return toPrediction(await ctx.services.models.predictForPatient(caller, patient, model));
  }

  @Mutation(() => Model, { description: 'ADMIN/ANALYST: cross-validates, fits, anchors and serves a model' })
  async trainModel(
    @Arg('dataset', () => String) dataset: string,
    @Arg('algorithm', () => String) algorithm: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Model> {
    return toModel(await ctx.services.models.trainModel(await ctx.optionalCaller(), dataset, algorithm));
  }
}
