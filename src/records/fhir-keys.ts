import { getAllDataTypes, isResourceTypeSchema, type InternalTypeSchema } from '@medplum/core';
import type { FhirIssue } from './fhir-validation.js';
import { isPlainObject } from './json-shape.js';

/**
 * Every key of a FHIR JSON resource that its definition does not declare, at any depth.
 *
 * `@medplum/core`'s validator asks `key in elements`, which also finds `constructor`, `__proto__`,
 * `toString` and the other `Object.prototype` members, so such keys went through (and a contained
 * `resourceType: "constructor"` named no type at all). This walk looks definitions up with
 * `Object.hasOwn` only and runs before that validator, so nothing unknown reaches it.
 */
export function unknownKeysOf(resource: Record<string, unknown>, maxIssues: number): FhirIssue[] {
  const issues: FhirIssue[] = [];
  const types = getAllDataTypes();
  const typeSchema = (name: string): InternalTypeSchema | undefined =>
    Object.hasOwn(types, name) ? types[name] : undefined;

  // Iterative: resources nest (contained, Bundle entries) and come from untrusted clients.
  const stack: { value: unknown; type: string; path: string }[] = [
    { value: resource, type: 'Resource', path: '' },
  ];
  while (stack.length > 0 && issues.length < maxIssues) {
    const { value, type, path } = stack.pop() as (typeof stack)[number];
    if (Array.isArray(value)) {
      // Arrays where a single value belongs are the validator's to report; their keys are still ours.
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({ value: value[i], type, path: `${path}[${i}]` });
      continue;
    }
    if (!isPrimitive(type) && value !== null && typeof value !== 'object') {
      // The validator walks a string given for an object character by character: one issue and ~12 µs
      // each, so one 1 MB string held the event loop for seconds.
      issues.push({
        path,
        message: `Invalid JSON type: expected an object (${type}), but got ${typeof value}`,
      });
      continue;
    }
    if (!isPlainObject(value)) continue; // null and the like: the validator reports them
    if (isPrimitive(type)) {
      // The validator calls methods on primitive values: an object with its own `valueOf` made it throw.
      issues.push({ path, message: 'Invalid JSON type: expected a primitive value, but got an object' });
      continue;
    }

    let schema: InternalTypeSchema | undefined;
    let here = path;
    if (type === 'Resource' || type === 'DomainResource') {
      const resourceType = value.resourceType;
      schema = typeof resourceType === 'string' ? typeSchema(resourceType) : undefined;
      if (!schema || !isResourceTypeSchema(schema)) {
        issues.push({
          path: `${path || '(resource)'}.resourceType`,
          message: `not a FHIR R4 resource type: ${JSON.stringify(resourceType)?.slice(0, 66)}`,
        });
        continue;
      }
      here = path === '' ? schema.name : path;
    } else {
      schema = typeSchema(type);
      // Every complex type R4 uses is indexed (fhir-validation.test.ts checks); else the validator's job.
      if (!schema) continue;
    }

    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      const childPath = `${here}.${key}`;
      if (key === 'resourceType' && isResourceTypeSchema(schema)) continue;
      const child = elementOf(schema, key);
      if (child === undefined) {
        issues.push({ path: childPath, message: `Invalid additional property "${key}"` });
        continue;
      }
      const childValue = value[key];
      if (child.extension) {
        const name = key.slice(1);
        const primitive = Object.hasOwn(value, name) ? value[name] : undefined;
        const problem = extensionShapeProblem(child.isArray, childValue, primitive);
        if (problem) {
          issues.push({ path: childPath, message: problem });
          continue;
        }
      }
      if (child.type !== null) stack.push({ value: childValue, type: child.type, path: childPath });
    }
  }
  return issues;
}

interface ElementOfKey {
  /** The value's type code; `null` when the element allows several (nothing below it to check). */
  type: string | null;
  isArray: boolean;
  /** A primitive's extension (`_birthDate`): an Element, or an array of them (or null) beside an array. */
  extension: boolean;
}

/**
 * What `key` is in an object of `schema`: an element name, a primitive's extension (`_birthDate`),
 * or a choice (`valueQuantity` of `value[x]`); `undefined` when it is none of them.
 */
function elementOf(schema: InternalTypeSchema, key: string): ElementOfKey | undefined {
  const elements = schema.elements;
  const extension = key.startsWith('_');
  const name = extension ? key.slice(1) : key;
  if (name === '') return undefined;

  let codes: string[] | undefined;
  let isArray = false;
  if (Object.hasOwn(elements, name) && !name.endsWith('[x]')) {
    codes = elements[name].type.map((t) => t.code);
    isArray = elements[name].isArray === true;
  } else {
    // value[x] is sent as valueQuantity, valueDateTime, ...: the suffix is a type code, capitalized.
    for (let cut = name.length - 1; cut > 0; cut--) {
      const choice = `${name.slice(0, cut)}[x]`;
      if (!Object.hasOwn(elements, choice)) continue;
      const suffix = name.slice(cut);
      const code = elements[choice].type.map((t) => t.code).find((c) => capitalize(c) === suffix);
      if (code !== undefined) codes = [code];
      break;
    }
  }
  if (codes === undefined) return undefined;
  if (extension) {
    return codes.length === 1 && isPrimitive(codes[0]) ? { type: 'Element', isArray, extension } : undefined;
  }
  return { type: codes.length === 1 ? codes[0] : null, isArray, extension };
}

/**
 * `_given` must be an array as long as `given`, `_family` a single object: the validator pairs them
 * up by position and threw a TypeError (assigning into a string) on `_family: [...]`.
 */
function extensionShapeProblem(isArray: boolean, extension: unknown, primitive: unknown): string | undefined {
  if (isArray !== Array.isArray(extension)) {
    return isArray
      ? 'the extensions of a repeating primitive must be an array'
      : 'the extension of a single primitive must be an object, not an array';
  }
  if (Array.isArray(extension) && Array.isArray(primitive) && extension.length !== primitive.length) {
    return `${extension.length} extensions for ${primitive.length} values: they pair up by position`;
  }
  return undefined;
}

/** FHIR primitive type codes start lower-case (`dateTime`, `xhtml`) or are FHIRPath system URLs. */
function isPrimitive(code: string): boolean {
  return /^[a-z]/.test(code) || code.includes('://');
}

function capitalize(code: string): string {
  return code.charAt(0).toUpperCase() + code.slice(1);
}
