import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { CID } from 'multiformats/cid';
import { IntegrityError, NotFoundError } from '../errors.js';
import type { Ledger } from '../ledger/chain-client.js';
import type { Logger } from '../logger.js';
import type { ContentStore } from '../storage/content-store.js';
import { algorithmById } from './algorithms/index.js';
import type { Predictor } from './algorithms/types.js';
import { metricsHash, parseArtifact, type AnyArtifact } from './artifact.js';
import { calibrated } from './calibration.js';
import { equationPredictor } from './equations.js';
import { modelKey } from '../ledger/ids.js';

/** An equation computes from its coefficients; a trained model loads its state, then its calibration. */
export function predictorOf(artifact: AnyArtifact): Predictor {
  if (artifact.kind === 'equation') return equationPredictor(artifact.equation, artifact.model);
  return calibrated(algorithmById(artifact.algorithm.id).load(artifact.model), artifact.calibration?.platt);
}

/** The two ledger calls the registry needs (the node passes its Ledger). */
export type ModelLedger = Pick<Ledger, 'anchorModel' | 'modelAnchor'>;

export interface ModelAnchor {
  txHash: string;
  blockNumber: number;
}

/** A model fetched by CID and checked against its chain anchor, ready to predict. */
export interface LoadedModel {
  artifact: AnyArtifact;
  cid: string;
  metricsHash: string;
  anchor: ModelAnchor;
  predictor: Predictor;
}

export interface ModelRegistryParameters {
  content: ContentStore;
  ledger: ModelLedger;
  logger: Logger;
}

/**
 * Model artifacts on IPFS with {cid, metricsHash} anchored on chain. Publishing stores the bytes and
 * anchors them once; loading trusts nothing local: it reads the anchor, fetches by CID, re-hashes the
 * bytes to the CID and the metrics to the anchored hash.
 */
export class ModelRegistry {
  private readonly loaded = new Map<string, LoadedModel>();

  constructor(private readonly parameters: ModelRegistryParameters) {}

  /**
   * Publishes and loads the `*.model.json` artifacts of `dirs`. When several files hold the same model
   * (the shipped one and one this node trained), the latest training run is served; on a tie the
   * later directory wins. A model whose anchor names other bytes is only re-anchored when the file is
   * a newer training run than the anchored artifact; otherwise it is refused (logged) and not served:
   * a changed file is not a new model.
   */
  async publishDirectories(
    dirs: readonly string[],
  ): Promise<{ served: string[]; refused: { file: string; error: string }[] }> {
    const refused: { file: string; error: string }[] = [];
    const refuse = (file: string, error: unknown) => {
      this.parameters.logger.error('model refused', { file, error: (error as Error).message });
      refused.push({ file, error: (error as Error).message });
    };
    const latest = new Map<string, { file: string; bytes: Uint8Array; trainedAt: number }>();
    for (const dir of [...new Set(dirs)]) {
      const files = (await readdir(dir).catch(() => [] as string[]))
        .filter((f) => f.endsWith('.model.json'))
        .sort();
      for (const file of files) {
        try {
          const bytes = new Uint8Array(await readFile(path.join(dir, file)));
          const artifact = parseArtifact(bytes, file);
          const trainedAt = Date.parse(artifact.trainedAt);
          const known = latest.get(artifact.modelId);
          if (!known || trainedAt >= known.trainedAt)
            latest.set(artifact.modelId, { file, bytes, trainedAt });
        } catch (error) {
          refuse(file, error);
        }
      }
    }
    const served: string[] = [];
    for (const [modelId, { file, bytes }] of [...latest].sort(([a], [b]) => a.localeCompare(b))) {
      try {
        await this.publish(bytes, { source: file });
        await this.load(modelId);
        served.push(modelId);
      } catch (error) {
        refuse(file, error);
      }
    }
    return { served, refused };
  }

  /**
   * Adds the artifact to IPFS and anchors it unless the chain already names these bytes.
   * `replace`: anchor even over a different existing anchor (a model just trained by this node).
   */
  async publish(
    bytes: Uint8Array,
    options: { source: string; replace?: boolean },
  ): Promise<{ modelId: string; cid: string; anchor: ModelAnchor; anchored: boolean }> {
    const artifact = parseArtifact(bytes, options.source);
    const hash = metricsHash(artifact.metrics);
    const cid = await this.parameters.content.put(bytes);
    const key = modelKey(artifact.modelId);
    const existing = await this.parameters.ledger.modelAnchor(key);
    if (existing) {
      const anchoredCid = CID.decode(existing.cid);
      if (anchoredCid.equals(cid) && existing.metricsHash.toLowerCase() === hash) {
        return { modelId: artifact.modelId, cid: cid.toString(), anchor: existing, anchored: false };
      }
      if (!options.replace && !(await this.isNewerThanAnchored(artifact, anchoredCid))) {
        throw new IntegrityError(
          `model ${artifact.modelId} (${options.source}) hashes to ${cid} but the chain anchors ` +
            `${anchoredCid}; the artifact is not a newer training run, so it was changed: refused`,
        );
      }
    }
    const tx = await this.parameters.ledger.anchorModel({ modelId: key, cid: cid.bytes, metricsHash: hash });
    this.loaded.delete(artifact.modelId);
    this.parameters.logger.info('model anchored', {
      modelId: artifact.modelId,
      cid: cid.toString(),
      tx: tx.txHash,
    });
    return { modelId: artifact.modelId, cid: cid.toString(), anchor: tx, anchored: true };
  }

  private async isNewerThanAnchored(artifact: AnyArtifact, anchoredCid: CID): Promise<boolean> {
    if (!(await this.parameters.content.has(anchoredCid))) return false;
    try {
      const previous = parseArtifact(await this.parameters.content.get(anchoredCid), anchoredCid.toString());
      return Date.parse(artifact.trainedAt) > Date.parse(previous.trainedAt);
    } catch {
      return false;
    }
  }

  /** Drops a loaded model, so the next load reads its anchor again (another replica retrained it). */
  forget(modelId: string): void {
    this.loaded.delete(modelId);
  }

  /** Fetches the anchored artifact by CID and checks CID, anchor and metrics hash; cached once loaded. */
  async load(modelId: string): Promise<LoadedModel> {
    const cached = this.loaded.get(modelId);
    if (cached) return cached;
    const anchor = await this.parameters.ledger.modelAnchor(modelKey(modelId));
    if (!anchor) throw new NotFoundError(`model ${modelId} is not anchored on chain`);
    const cid = CID.decode(anchor.cid);
    const bytes = await this.parameters.content.get(cid);
    const actual = await this.parameters.content.cidOf(bytes);
    if (!actual.equals(cid)) {
      throw new IntegrityError(`model ${modelId}: content fetched for ${cid} hashes to ${actual}: refused`);
    }
    const artifact = parseArtifact(bytes, cid.toString());
    if (artifact.modelId !== modelId) {
      throw new IntegrityError(
        `model ${modelId}: the anchored artifact is model ${artifact.modelId}: refused`,
      );
    }
    const hash = metricsHash(artifact.metrics);
    if (hash !== anchor.metricsHash.toLowerCase()) {
      throw new IntegrityError(
        `model ${modelId}: metrics hash ${hash} differs from the anchored ${anchor.metricsHash}`,
      );
    }
    const model: LoadedModel = {
      artifact,
      cid: cid.toString(),
      metricsHash: hash,
      anchor: { txHash: anchor.txHash, blockNumber: anchor.blockNumber },
      predictor: predictorOf(artifact),
    };
    this.loaded.set(modelId, model);
    return model;
  }

  /** Models loaded and verified so far. */
  list(): LoadedModel[] {
    return [...this.loaded.values()].sort((a, b) => a.artifact.modelId.localeCompare(b.artifact.modelId));
  }

  /** A loaded model, or NOT_FOUND. */
  get(modelId: string): LoadedModel {
    const model = this.loaded.get(modelId);
    if (!model) {
      throw new NotFoundError(
        `no model ${modelId}; models: ${[...this.loaded.keys()].sort().join(', ') || 'none'}`,
      );
    }
    return model;
  }
}
