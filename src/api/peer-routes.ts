import { once } from 'node:events';
import { Router, type Response } from 'express';
import { CID } from 'multiformats/cid';
import { identity } from 'multiformats/hashes/identity';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CarOptions } from '../storage/dag-car.js';
import { CAR, RAW_BLOCK, gatewayFormat } from './gateway-format.js';
import { sendRefusal } from './http-errors.js';

/** What one node offers the others: all of it public or self-authenticating. */
export interface PeerApi {
  /**
   * The node's relayer address (its box key is read from the chain, not trusted from here) and its
   * libp2p peer id and listen addresses (what other nodes put in OMNICHART_IPFS_PEERS).
   */
  nodeInfo(): {
    relayerAddress: string;
    chainId: string;
    contractAddress: string;
    peerId?: string | null;
    ipfsAddresses?: string[];
    /** This replica's role among the processes of the node (`leader` when it runs alone). */
    role?: 'leader' | 'follower';
  };
  /** Bytes held locally for a CID (ciphertext envelopes, model artifacts); the caller re-hashes them. */
  localContent(cid: CID): Promise<Uint8Array | null>;
  /** One raw block held locally (checked against its CID when read), for trustless-gateway clients. */
  localBlock(cid: CID): Promise<Uint8Array | null>;
  /** A CAR of the DAG under a root held locally; null when the root is not held. */
  localCar?(cid: CID, options: CarOptions): Promise<AsyncIterable<Uint8Array> | null>;
  /** Answer 400 to a request with neither `Accept` nor `?format` (the spec's strict trustless mode). */
  strict?: boolean;
}

/** CIDs are at most this long in text; anything longer is refused before parsing. */
const CID_PATTERN = /^[A-Za-z0-9]{7,128}$/;
/** The trustless gateway spec's probe: the identity CID of no bytes. */
const EMPTY_IDENTITY = 'bafkqaaa';
/** Spec and Kubo's value for immutable content (48 weeks). */
const IMMUTABLE = 'public, max-age=29030400, immutable';

/**
 * GET /node, /ipfs/:cid. /ipfs/:cid is a trustless gateway (specs.ipfs.tech/http-gateways/
 * trustless-gateway): one raw block for `?format=raw` or `Accept: application/vnd.ipld.raw` (what
 * `omnichart export` and Helia's gateway client fetch and re-hash), a CARv1 of the DAG for
 * `?format=car` or `Accept: application/vnd.ipld.car`, and, unless strict, the whole file otherwise
 * (what nodes before the CAR fetch ask for). Only blocks held here are served, never fetched for a caller.
 */
export function peerRoutes(api: PeerApi, logger: Logger): Router {
  const router = Router();
  router.get('/node', (_req, res) => {
    res.json(api.nodeInfo());
  });
  router.get('/ipfs/:cid', async (req, res) => {
    let cid: CID;
    try {
      if (!CID_PATTERN.test(req.params.cid)) throw new Error('bad cid');
      cid = CID.parse(req.params.cid);
    } catch {
      sendRefusal(res, { code: 'BAD_REQUEST', message: 'not a CID' });
      return;
    }
    if (cid.multihash.code === identity.code && cid.toString() !== EMPTY_IDENTITY) {
      // Its bytes are in the CID itself: serving them would echo whatever a caller wrote into a link.
      sendRefusal(res, {
        code: 'BAD_REQUEST',
        message: `identity CIDs other than ${EMPTY_IDENTITY} are not served`,
      });
      return;
    }
    const format = gatewayFormat(req.query, req.get('accept'), api.strict ?? false);
    if (format.kind === 'refused') {
      sendRefusal(res, { code: 'BAD_REQUEST', message: format.message });
      return;
    }
    const text = cid.toString();
    try {
      if (format.kind === 'car') {
        const car = api.localCar ? await api.localCar(cid, format) : null;
        if (!car) {
          sendRefusal(res, new NotFoundError('not held here'));
          return;
        }
        const dups = format.duplicates ? 'y' : 'n';
        setImmutableHeaders(
          res,
          text,
          `${CAR}; version=1; order=dfs; dups=${dups}`,
          `"${text}.car.${format.scope}.dfs.${dups}"`,
        );
        res.setHeader('content-disposition', `attachment; filename="${text}.car"`);
        if (!format.fromQuery) res.setHeader('content-location', `/ipfs/${text}?format=car`);
        if (req.fresh) {
          res.status(304).end();
          return;
        }
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        await streamCar(res, car, text, logger);
        return;
      }
      const bytes =
        identity.code === cid.multihash.code
          ? new Uint8Array(0)
          : format.kind === 'raw'
            ? await api.localBlock(cid)
            : await api.localContent(cid);
      if (!bytes) {
        sendRefusal(res, new NotFoundError('not held here'));
        return;
      }
      if (format.kind === 'raw') {
        setImmutableHeaders(res, text, RAW_BLOCK, `"${text}.raw"`);
        res.setHeader('content-disposition', `attachment; filename="${text}.bin"`);
        if (!format.fromQuery) res.setHeader('content-location', `/ipfs/${text}?format=raw`);
      } else {
        setImmutableHeaders(res, text, 'application/octet-stream', `"${text}"`);
        res.setHeader('content-disposition', 'attachment');
      }
      res.send(Buffer.from(bytes));
    } catch (error) {
      if (error instanceof NotFoundError) sendRefusal(res, new NotFoundError('not held here'));
      else {
        logger.warn('serving content to a peer failed', { cid: text, error: (error as Error).message });
        sendRefusal(res, { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
      }
    }
  });
  return router;
}

function setImmutableHeaders(res: Response, cid: string, contentType: string, etag: string): void {
  res.setHeader('content-type', contentType);
  res.setHeader('etag', etag);
  res.setHeader('cache-control', IMMUTABLE);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('vary', 'accept');
  res.setHeader('x-ipfs-path', `/ipfs/${cid}`);
  res.setHeader('x-ipfs-roots', cid);
}

/**
 * Writes the CAR as it is produced, waiting for the socket to drain. Once the 200 is sent a missing
 * block can only cut the response short (the spec's streaming rule): the client sees an incomplete CAR.
 */
async function streamCar(res: Response, car: AsyncIterable<Uint8Array>, cid: string, logger: Logger) {
  res.status(200);
  try {
    for await (const chunk of car) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
    res.end();
  } catch (error) {
    logger.warn('CAR response cut short', { cid, error: (error as Error).message });
    res.destroy();
  }
}
