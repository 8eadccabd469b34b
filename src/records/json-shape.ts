/**
 * One iterative pass over an untrusted JSON value: how deep it nests, a lower bound of its JSON size,
 * and the first value JSON cannot represent. Iterative so that 10,000 levels cannot overflow the stack.
 */
export interface JsonShape {
  /** Nesting depth of objects and arrays (a flat object is 1); stops counting just past the limit. */
  depth: number;
  /** A lower bound of the UTF-8 size of `JSON.stringify(value)`: if it is over a limit, so is the real size. */
  minBytes: number;
  /** Where the first non-JSON value sits (a function, a bigint, NaN, a Date, ...), if any. */
  notJson?: { path: string; found: string };
}

interface Frame {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
}

/**
 * Measures `value`. Stops walking as soon as a container nests deeper than `maxDepth`
 * (then `depth` is `maxDepth + 1`), so a hostile input costs at most one pass.
 */
export function measureJson(value: unknown, maxDepth: number): JsonShape {
  let depth = 0;
  let minBytes = 0;
  let notJson: JsonShape['notJson'];
  const stack: Frame[] = [{ value, depth: 0, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const v = frame.value;
    switch (typeof v) {
      case 'string':
        // UTF-8 never takes fewer bytes than UTF-16 code units; quotes add 2.
        minBytes += v.length + 2;
        continue;
      case 'boolean':
        minBytes += v ? 4 : 5;
        continue;
      case 'number':
        if (Number.isFinite(v)) minBytes += String(v).length;
        else notJson ??= { path: pathOf(frame), found: String(v) };
        continue;
      case 'object':
        break;
      default:
        notJson ??= { path: pathOf(frame), found: typeof v };
        continue;
    }
    if (v === null) {
      minBytes += 4;
      continue;
    }
    const childDepth = frame.depth + 1;
    if (childDepth > depth) depth = childDepth;
    if (depth > maxDepth) return { depth, minBytes, notJson };
    if (Array.isArray(v)) {
      minBytes += 2 + Math.max(0, v.length - 1);
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ value: v[i], depth: childDepth, key: i, parent: frame });
      continue;
    }
    if (!isPlainObject(v)) {
      notJson ??= { path: pathOf(frame), found: v.constructor?.name ?? 'object' };
      continue;
    }
    // JSON.stringify drops undefined properties, so they neither count nor fail.
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
    minBytes += 2 + Math.max(0, keys.length - 1);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      minBytes += k.length + 3;
      stack.push({ value: (v as Record<string, unknown>)[k], depth: childDepth, key: k, parent: frame });
    }
  }
  return { depth, minBytes, notJson };
}

/** An object literal or `Object.create(null)` (what GraphQL's JSON scalar builds), not an array or a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** FHIRPath-like location (`code.coding[0]`), built only when reporting a problem. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) {
    parts.push(typeof f.key === 'number' ? `[${f.key}]` : `.${f.key}`);
  }
  const path = parts.reverse().join('');
  return path.startsWith('.') ? path.slice(1) : path || '(root)';
}
