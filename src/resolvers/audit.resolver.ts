import { Arg, Ctx, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import { checksumAddress, normalizeAddress } from '../ledger/address.js';
import type { AccessAlert as AccessAlertEvent } from '../audit/access-alerts.js';
import { alertCursor } from '../audit/alert-log.js';
import { alertMessage } from '../audit/alert-text.js';
import { BadUserInputError } from '../errors.js';
import { breakGlassGrantId } from '../consent/break-glass-service.js';
import {
  AccessAlert,
  AccessAlertConnection,
  AccessAlertKind,
  AuditConnection,
  AuditOutcomeName,
  ProofPosition,
} from '../schema/audit.type.js';
import type { RequestContext } from './context.js';

const encodeCursor = (seq: number) => Buffer.from(`audit:${seq}`).toString('base64url');

function decodeCursor(cursor: string): number {
  const match = /^audit:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match)
    throw new BadUserInputError('after must be a cursor from a previous auditTrail page', { field: 'after' });
  return Number(match[1]);
}

@Resolver()
export class AuditResolver {
  @Query(() => AuditConnection, {
    description: 'Who accessed the chart, newest first, each entry with its proof against an anchored root',
  })
  async auditTrail(
    @Arg('patient', () => String) patientInput: string,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<AuditConnection> {
    const patient = normalizeAddress(patientInput, 'patient');
    const size = first ?? 50;
    if (!Number.isInteger(size) || size < 1 || size > 500) {
      throw new BadUserInputError('first must be between 1 and 500', { field: 'first' });
    }
    await ctx.services.policy.authorize({ caller: await ctx.caller(), patient, action: 'audit' });
    const page = await ctx.services.audit.trail(patient, size, after ? decodeCursor(after) : undefined);
    const edges = page.entries.map(({ entry, batch, proof }) => ({
      cursor: encodeCursor(entry.seq),
      node: {
        seq: entry.seq,
        patient: entry.patient,
        actor: entry.actor,
        action: entry.action,
        resourceType: entry.resourceType,
        recordId: entry.recordId,
        outcome: entry.outcome as AuditOutcomeName,
        purpose: entry.purpose,
        reason: entry.reason,
        at: entry.at.toISOString(),
        prevHash: entry.prevHash,
        hash: entry.hash,
        batch: batch && {
          root: batch.root,
          firstSeq: batch.firstSeq,
          lastSeq: batch.lastSeq,
          anchorTx: batch.anchorTx,
          anchorBlock: batch.anchorBlock,
        },
        proof: proof && proof.map((step) => ({ hash: step.hash, position: step.position as ProofPosition })),
      },
    }));
    const batches = await ctx.services.audit.batchesOf(patient);
    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      totalCount: page.total,
      batches: batches.map((batch) => ({
        root: batch.root,
        firstSeq: batch.firstSeq,
        lastSeq: batch.lastSeq,
        anchorTx: batch.anchorTx,
        anchorBlock: batch.anchorBlock,
      })),
    };
  }

  @Query(() => AccessAlertConnection, {
    description:
      'Every break-glass on the chart (from the chain, so every node lists it) and every access this node denied, newest first; patient only',
  })
  async alerts(
    @Arg('patient', () => String) patientInput: string,
    @Arg('first', () => Int, { nullable: true }) first: number | undefined,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Ctx() ctx: RequestContext,
  ): Promise<AccessAlertConnection> {
    const patient = normalizeAddress(patientInput, 'patient');
    await ctx.services.policy.authorize({ caller: await ctx.caller(), patient, action: 'audit' });
    const page = await ctx.services.alerts.list(patient, first ?? 50, after);
    const edges = page.alerts.map((alert) => ({
      cursor: alertCursor(alert),
      node: toAccessAlert(alert),
    }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } };
  }

  @Subscription(() => AccessAlert, {
    description: 'Break-glass and denied attempts on the chart, live; only the patient may listen',
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      const patient = normalizeAddress(String(args.patient), 'patient');
      await ctx.services.policy.authorize({ caller: await ctx.caller(), patient, action: 'audit' });
      return ctx.services.alerts.subscribe(patient);
    },
  })
  accessAlert(@Root() alert: AccessAlertEvent, @Arg('patient', () => String) _patient: string): AccessAlert {
    return toAccessAlert(alert);
  }
}

/** One alert as clients see it, stored (`alerts`) or live (`accessAlert`). */
function toAccessAlert(
  alert: Omit<AccessAlertEvent, 'reasonCode'> & {
    reasonCode: string;
    breakGlassId?: string | null;
    organization?: string | null;
    txHash?: string | null;
  },
): AccessAlert {
  return {
    kind: alert.kind as AccessAlertKind,
    actor: checksumAddress(alert.actor),
    action: alert.action,
    resourceType: alert.resourceType,
    reasonCode: alert.reasonCode,
    message: alertMessage(alert),
    reason: alert.reason,
    at: alert.at,
    grantId: alert.breakGlassId ? breakGlassGrantId(alert.breakGlassId) : null,
    organization: alert.organization ? checksumAddress(alert.organization) : null,
    txHash: alert.txHash ?? null,
  };
}
