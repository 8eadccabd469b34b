import type { DagScope } from '../storage/dag-car.js';

export const RAW_BLOCK = 'application/vnd.ipld.raw';
export const CAR = 'application/vnd.ipld.car';

/** What one GET /ipfs/<cid> asks for, decided from `?format`, the CAR parameters and `Accept`. */
export type GatewayFormat =
  | { kind: 'raw'; fromQuery: boolean }
  | { kind: 'car'; fromQuery: boolean; duplicates: boolean; scope: DagScope }
  | { kind: 'file' }
  | { kind: 'refused'; message: string };

type Query = Record<string, unknown>;

interface MediaRange {
  type: string;
  params: Map<string, string>;
  q: number;
}

/** `Accept` as media ranges, most preferred first (RFC 9110 section 12.5.1; ties keep their order). */
function mediaRanges(accept: string): MediaRange[] {
  const ranges = accept
    .split(',')
    .map((part) => {
      const [type, ...rest] = part.split(';').map((s) => s.trim());
      const params = new Map<string, string>();
      for (const param of rest) {
        const at = param.indexOf('=');
        if (at > 0)
          params.set(
            param.slice(0, at).trim().toLowerCase(),
            param
              .slice(at + 1)
              .trim()
              .replace(/^"|"$/g, ''),
          );
      }
      const q = Number(params.get('q') ?? '1');
      return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
    })
    .filter((range) => range.type && range.q > 0);
  return ranges.sort((a, b) => b.q - a.q);
}

/**
 * CAR variants this gateway writes: version 1, depth-first order (`order=unk` accepts it too), with
 * or without duplicates. Query parameters win over the Accept parameters, as the spec says.
 */
function carVariant(query: Query, params: Map<string, string>): { duplicates: boolean } | string {
  const pick = (name: string) => {
    const fromQuery = query[`car-${name}`];
    return typeof fromQuery === 'string' ? fromQuery : params.get(name);
  };
  const version = pick('version');
  if (version !== undefined && version !== '1') return `CAR version ${version} is not served; only version=1`;
  const order = pick('order');
  if (order !== undefined && order !== 'dfs' && order !== 'unk' && order !== '')
    return `CAR order ${order} is not served; only order=dfs`;
  const dups = pick('dups');
  if (dups !== undefined && dups !== 'y' && dups !== 'n') return `CAR dups must be y or n, not ${dups}`;
  return { duplicates: dups === 'y' };
}

function dagScope(query: Query): DagScope | string {
  if (query['entity-bytes'] !== undefined) return 'entity-bytes is not supported; ask for the whole DAG';
  const scope = query['dag-scope'];
  if (scope === undefined || scope === 'all' || scope === 'entity') return 'all';
  if (scope === 'block') return 'block';
  return 'dag-scope must be block, entity or all';
}

/**
 * The response format for a request, following the trustless gateway spec: `?format=raw|car` first,
 * then `Accept`. Without either, the whole file (what HTTP peers of older versions fetch), unless the
 * gateway is strict, which answers 400 as the spec allows.
 */
export function gatewayFormat(query: Query, accept: string | undefined, strict: boolean): GatewayFormat {
  const car = (fromQuery: boolean, params: Map<string, string>): GatewayFormat => {
    const variant = carVariant(query, params);
    if (typeof variant === 'string') return { kind: 'refused', message: variant };
    const scope = dagScope(query);
    if (scope !== 'all' && scope !== 'block') return { kind: 'refused', message: scope };
    return { kind: 'car', fromQuery, duplicates: variant.duplicates, scope };
  };
  const format = query.format;
  if (format !== undefined) {
    if (format === 'raw') return { kind: 'raw', fromQuery: true };
    if (format === 'car') {
      const params = mediaRanges(accept ?? '').find((r) => r.type === CAR)?.params ?? new Map();
      return car(true, params);
    }
    return { kind: 'refused', message: 'format must be raw or car' };
  }
  let refusedVariant: string | undefined;
  for (const range of mediaRanges(accept ?? '')) {
    if (range.type === RAW_BLOCK) return { kind: 'raw', fromQuery: false };
    if (range.type === CAR) {
      const chosen = car(false, range.params);
      if (chosen.kind !== 'refused') return chosen;
      refusedVariant ??= chosen.message;
    }
  }
  if (refusedVariant) return { kind: 'refused', message: refusedVariant };
  if (strict) {
    return {
      kind: 'refused',
      message: `this trustless gateway needs Accept: ${RAW_BLOCK} or ${CAR} (or ?format=raw|car)`,
    };
  }
  return { kind: 'file' };
}
