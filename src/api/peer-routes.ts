import { Router } from 'express';
import { CID } from 'multiformats/cid';
import { NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { sendRefusal } from './http-errors.js';

/** What one node offers the others: all of it public or self-authenticating. */
export interface PeerApi {
  /** The node's relayer address; its box key is read from the chain, not trusted from here. */
  nodeInfo(): { relayerAddress: string; chainId: string; contractAddress: string };
  /** Bytes held locally for a CID (ciphertext envelopes, model artifacts); the caller re-hashes them. */
  localContent(cid: CID): Promise<Uint8Array | null>;
  /** One raw block held locally (checked against its CID when read), for trustless-gateway clients. */
  localBlock(cid: CID): Promise<Uint8Array | null>;
}

const RAW_BLOCK = 'application/vnd.ipld.raw';

const CID_PATTERN = /^[A-Za-z0-9]{32,128}$/;

/**
 * GET /node, /ipfs/:cid. /ipfs/:cid is a minimal trustless gateway: one raw block when asked with
 * `?format=raw` or `Accept: application/vnd.ipld.raw` (the IPFS trustless gateway spec; what
 * `omnichart export` fetches and re-hashes), the whole file otherwise (peers re-hash it).
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
    const raw = req.query.format === 'raw' || (req.get('accept') ?? '').includes(RAW_BLOCK);
    try {
      const bytes = raw ? await api.localBlock(cid) : await api.localContent(cid);
      if (!bytes) {
        sendRefusal(res, new NotFoundError('not held here'));
        return;
      }
      res.setHeader('content-type', raw ? RAW_BLOCK : 'application/octet-stream');
      if (raw) res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      res.setHeader('vary', 'accept');
      res.send(Buffer.from(bytes));
    } catch (error) {
      if (error instanceof NotFoundError) sendRefusal(res, new NotFoundError('not held here'));
      else {
        logger.warn('serving content to a peer failed', {
          cid: cid.toString(),
          error: (error as Error).message,
        });
        sendRefusal(res, { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
      }
    }
  });
  return router;
}
