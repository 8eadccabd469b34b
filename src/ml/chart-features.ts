/**
 * From a FHIR chart to model inputs: which resources hold each feature, unit conversion, and the
 * selection that decrypts only those. Over 400 lines because extraction and selection must agree
 * record for record (the selection is tested to give what extraction gives on the whole chart), so
 * they stay side by side.
 */
import type {
  Condition,
  MedicationRequest,
  MedicationStatement,
  Observation,
  Patient,
  Quantity,
  Resource,
} from '@medplum/fhirtypes';
import { clinicalTimeOf } from '../records/record-metadata.js';
import type { ChartEntry, ChartQuery, ChartRead } from '../records/record-service.js';
import type { ArtifactFeature } from './artifact.js';
import {
  AFRICAN_AMERICAN,
  LOINC_SYSTEM,
  RXNORM_SYSTEM,
  SNOMED_SYSTEM,
  UCUM_SYSTEM,
  US_CORE_RACE,
} from './features.js';

export type MissingReason = 'NOT_IN_CHART' | 'NO_CHART_SOURCE' | 'UNIT_NOT_CONVERTIBLE';

/** Where a chart-derived value came from, for the answer and for audits. */
export interface FeatureSource {
  feature: string;
  value: number;
  resourceType: string;
  resourceId?: string;
  code?: string;
  /** Value and unit as written in the chart. */
  original?: { value: number; unit: string };
  effective?: string;
}

export interface ChartExtraction {
  /** Feature name → value in the model's unit, or null when missing. */
  values: Record<string, number | null>;
  sources: FeatureSource[];
  missing: { feature: string; reason: MissingReason; detail?: string }[];
}

const IGNORED_STATUS = new Set(['entered-in-error', 'cancelled']);
const ACTIVE_CLINICAL = new Set(['active', 'recurrence', 'relapse']);
/** Medication statuses that do not mean "taking it now". */
const INACTIVE_MEDICATION = [
  'stopped',
  'completed',
  'cancelled',
  'entered-in-error',
  'on-hold',
  'draft',
  'unknown',
  'not-taken',
  'intended',
];

interface Candidate {
  observation: Observation;
  code: string;
  quantity: Quantity;
  time: number;
}

/** Builds a model's feature vector from a patient's FHIR resources as of `now`. */
export function extractFeatures(
  features: readonly ArtifactFeature[],
  resources: readonly Resource[],
  now: Date,
): ChartExtraction {
  const observations = resources.filter(
    (r): r is Observation =>
      r.resourceType === 'Observation' && !IGNORED_STATUS.has(r.status) && effectiveTime(r) <= now.getTime(),
  );
  const conditions = resources.filter((r): r is Condition => r.resourceType === 'Condition');
  const medications = resources.filter(
    (r): r is MedicationRequest | MedicationStatement =>
      (r.resourceType === 'MedicationRequest' || r.resourceType === 'MedicationStatement') &&
      !INACTIVE_MEDICATION.includes(r.status ?? 'unknown'),
  );
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient');
  const out: ChartExtraction = { values: {}, sources: [], missing: [] };
  const missing = (feature: string, reason: MissingReason, detail?: string) => {
    out.values[feature] = null;
    out.missing.push({ feature, reason, ...(detail ? { detail } : {}) });
  };
  const found = (source: FeatureSource) => {
    out.values[source.feature] = source.value;
    out.sources.push(source);
  };

  for (const feature of features) {
    const source = feature.chart;
    if (!source) {
      missing(feature.name, 'NO_CHART_SOURCE');
      continue;
    }
    if (source.kind === 'age') {
      const age = patient?.birthDate ? ageInYears(patient.birthDate, now) : null;
      if (age === null) missing(feature.name, 'NOT_IN_CHART', 'Patient.birthDate');
      else {
        found({
          feature: feature.name,
          value: age,
          resourceType: 'Patient',
          resourceId: patient?.id,
        });
      }
    } else if (source.kind === 'sex') {
      const sex = patient?.gender === 'male' ? 1 : patient?.gender === 'female' ? 0 : null;
      if (sex === null) missing(feature.name, 'NOT_IN_CHART', 'Patient.gender (male or female)');
      else {
        found({
          feature: feature.name,
          value: sex,
          resourceType: 'Patient',
          resourceId: patient?.id,
        });
      }
    } else if (source.kind === 'condition') {
      const match = conditions.find(
        (c) => isActive(c) && hasCode(c.code?.coding, SNOMED_SYSTEM, source.snomed),
      );
      // No active coded Condition counts as "no": that is what an up-to-date problem list says.
      found({
        feature: feature.name,
        value: match ? 1 : 0,
        resourceType: 'Condition',
        resourceId: match?.id,
        code: match?.code?.coding?.find((c) => c.system === SNOMED_SYSTEM)?.code,
      });
    } else if (source.kind === 'race') {
      const african = raceCodes(patient).includes(AFRICAN_AMERICAN);
      // Any other or unrecorded race counts as 0: the equations that use it say to do so.
      found({
        feature: feature.name,
        value: african ? 1 : 0,
        resourceType: 'Patient',
        resourceId: patient?.id,
        code: raceCodes(patient).join(',') || undefined,
      });
    } else if (source.kind === 'medication') {
      const match = medications.find((m) =>
        hasCode(m.medicationCodeableConcept?.coding, RXNORM_SYSTEM, source.rxnorm),
      );
      found({
        feature: feature.name,
        value: match ? 1 : 0,
        resourceType: match?.resourceType ?? 'MedicationRequest',
        resourceId: match?.id,
        code: match?.medicationCodeableConcept?.coding?.find((c) => c.system === RXNORM_SYSTEM)?.code,
      });
    } else if (source.kind === 'coded-observation') {
      const coded = codedCandidates(observations, source.loinc);
      if (coded.length === 0) {
        missing(feature.name, 'NOT_IN_CHART', `no Observation with LOINC ${source.loinc.join(' / ')}`);
        continue;
      }
      const latest = coded.reduce((a, b) => (b.time > a.time ? b : a));
      const value = source.positive.includes(latest.value)
        ? 1
        : source.negative.includes(latest.value)
          ? 0
          : null;
      if (value === null) {
        missing(
          feature.name,
          'NOT_IN_CHART',
          `latest ${latest.code} is SNOMED ${latest.value}, neither yes nor no`,
        );
        continue;
      }
      found({
        feature: feature.name,
        value,
        resourceType: 'Observation',
        resourceId: latest.observation.id,
        code: `${latest.code}=${latest.value}`,
        effective: Number.isFinite(latest.time) ? new Date(latest.time).toISOString() : undefined,
      });
    } else {
      const candidates = observationCandidates(observations, source.loinc);
      if (candidates.length === 0) {
        missing(feature.name, 'NOT_IN_CHART', `no Observation with LOINC ${source.loinc.join(' / ')}`);
        continue;
      }
      const latest = candidates.reduce((a, b) => (b.time > a.time ? b : a));
      const unit =
        latest.quantity.system === UCUM_SYSTEM && latest.quantity.code
          ? latest.quantity.code
          : latest.quantity.unit;
      const factor = unit === undefined ? undefined : source.units[unit];
      if (unit === undefined || factor === undefined) {
        missing(
          feature.name,
          'UNIT_NOT_CONVERTIBLE',
          `${latest.code} in ${unit ?? 'no unit'}; accepted: ${Object.keys(source.units).join(', ')}`,
        );
        continue;
      }
      const converted = latest.quantity.value! * factor;
      const value = source.above === undefined ? converted : converted > source.above ? 1 : 0;
      found({
        feature: feature.name,
        value,
        resourceType: 'Observation',
        resourceId: latest.observation.id,
        code: latest.code,
        original: { value: latest.quantity.value!, unit },
        effective: Number.isFinite(latest.time) ? new Date(latest.time).toISOString() : undefined,
      });
    }
  }
  return out;
}

/** Observations (or their components, as in a blood-pressure panel) coded with one of the LOINC codes. */
function observationCandidates(observations: readonly Observation[], loinc: readonly string[]): Candidate[] {
  const out: Candidate[] = [];
  for (const observation of observations) {
    const time = effectiveTime(observation);
    const own = matchingCode(observation.code?.coding, loinc);
    if (own && typeof observation.valueQuantity?.value === 'number') {
      out.push({ observation, code: own, quantity: observation.valueQuantity, time });
    }
    for (const component of observation.component ?? []) {
      const code = matchingCode(component.code?.coding, loinc);
      if (code && typeof component.valueQuantity?.value === 'number') {
        out.push({ observation, code, quantity: component.valueQuantity, time });
      }
    }
  }
  return out;
}

/** Observations coded with one of the LOINC codes whose value is a SNOMED concept. */
function codedCandidates(
  observations: readonly Observation[],
  loinc: readonly string[],
): { observation: Observation; code: string; value: string; time: number }[] {
  return observations.flatMap((observation) => {
    const code = matchingCode(observation.code?.coding, loinc);
    const value = observation.valueCodeableConcept?.coding?.find((c) => c.system === SNOMED_SYSTEM)?.code;
    return code && value ? [{ observation, code, value, time: effectiveTime(observation) }] : [];
  });
}

/** OMB race category codes of the US Core race extension. */
function raceCodes(patient: Patient | undefined): string[] {
  const race = patient?.extension?.find((e) => e.url === US_CORE_RACE);
  return (race?.extension ?? [])
    .filter((e) => e.url === 'ombCategory' && e.valueCoding?.code)
    .map((e) => e.valueCoding!.code!);
}

function matchingCode(codings: { system?: string; code?: string }[] | undefined, loinc: readonly string[]) {
  return codings?.find((c) => c.system === LOINC_SYSTEM && c.code && loinc.includes(c.code))?.code;
}

function hasCode(
  codings: { system?: string; code?: string }[] | undefined,
  system: string,
  codes: readonly string[],
) {
  return codings?.some((c) => c.system === system && c.code !== undefined && codes.includes(c.code)) ?? false;
}

function isActive(condition: Condition): boolean {
  const clinical = condition.clinicalStatus?.coding?.[0]?.code;
  const verification = condition.verificationStatus?.coding?.[0]?.code;
  if (verification === 'refuted' || verification === 'entered-in-error') return false;
  return clinical === undefined || ACTIVE_CLINICAL.has(clinical);
}

/**
 * When the observation applies: its clinical time as the chart indexes it (`effectiveDateTime`,
 * `effectiveInstant`, `effectivePeriod.start`, `issued`; see clinicalTimeOf), so the latest value is
 * the one Postgres ranks first; -Infinity when it carries none (it then loses to any dated one).
 */
function effectiveTime(observation: Observation): number {
  return clinicalTimeOf(observation)?.getTime() ?? -Infinity;
}

/** What one feature needs from the chart: which records may hold it, and which one settles it. */
interface Need {
  query: ChartQuery;
  /**
   * Settles the feature: no record after it in the list can change the value. For a dated candidate
   * Observation, every later one in the list is older (the list is in clinical time order); for a
   * Condition, `find` stops at the first active match; for the Patient, the first one counts.
   */
  settles: (resource: Resource) => boolean;
}

/** A dated Observation with one of these codes, taken before `now`, that `candidates` reads a value from. */
function observationNeed(
  loinc: readonly string[],
  now: Date,
  candidates: (observations: readonly Observation[], loinc: readonly string[]) => unknown[],
): Need {
  return {
    query: {
      resourceType: 'Observation',
      codes: loinc.map((code) => `${LOINC_SYSTEM}|${code}`),
      until: now,
      excludeStatus: [...IGNORED_STATUS],
    },
    settles: (resource) =>
      resource.resourceType === 'Observation' &&
      !IGNORED_STATUS.has(resource.status) &&
      Number.isFinite(effectiveTime(resource)) &&
      effectiveTime(resource) <= now.getTime() &&
      candidates([resource], loinc).length > 0,
  };
}

function needsOf(features: readonly ArtifactFeature[], now: Date): Need[] {
  const needs: Need[] = [{ query: { resourceType: 'Patient' }, settles: () => true }];
  for (const feature of features) {
    const source = feature.chart;
    if (source?.kind === 'observation') {
      needs.push(observationNeed(source.loinc, now, observationCandidates));
    } else if (source?.kind === 'coded-observation') {
      needs.push(observationNeed(source.loinc, now, codedCandidates));
    } else if (source?.kind === 'medication') {
      for (const resourceType of ['MedicationRequest', 'MedicationStatement']) {
        needs.push({
          query: {
            resourceType,
            codes: source.rxnorm.map((code) => `${RXNORM_SYSTEM}|${code}`),
            excludeStatus: INACTIVE_MEDICATION,
          },
          settles: (resource) =>
            (resource.resourceType === 'MedicationRequest' ||
              resource.resourceType === 'MedicationStatement') &&
            !INACTIVE_MEDICATION.includes(resource.status ?? 'unknown') &&
            hasCode(resource.medicationCodeableConcept?.coding, RXNORM_SYSTEM, source.rxnorm),
        });
      }
    } else if (source?.kind === 'condition') {
      needs.push({
        query: { resourceType: 'Condition', codes: source.snomed.map((code) => `${SNOMED_SYSTEM}|${code}`) },
        settles: (resource) =>
          resource.resourceType === 'Condition' &&
          isActive(resource) &&
          hasCode(resource.code?.coding, SNOMED_SYSTEM, source.snomed),
      });
    }
  }
  return needs;
}

/**
 * The resources {@link extractFeatures} needs for these features, decrypting only those: the chart's
 * metadata lists, per feature, the records that may hold it newest first (one query), and each list
 * is opened from its head — one record, then 2, 4, ... more while nothing settles it (a record
 * without a numeric value, an undated one, a resolved Condition) — in rounds of one `read` each.
 * Answers the opened resources in the chart's order (clinical time, then id, descending), on which
 * extractFeatures gives the same values, sources and missing features as on the whole chart.
 */
export async function selectChartResources(
  features: readonly ArtifactFeature[],
  now: Date,
  chart: ChartRead,
): Promise<Resource[]> {
  const needs = needsOf(features, now);
  const lists = await chart.find(needs.map((n) => n.query));
  const opened = new Map<string, { entry: ChartEntry; resource: Resource }>();
  const position = needs.map(() => 0);
  const settled = needs.map((_, i) => lists[i].length === 0);
  for (let chunk = 1; settled.some((done) => !done); chunk *= 2) {
    const wanted = new Map<string, ChartEntry>();
    needs.forEach((_, i) => {
      if (settled[i]) return;
      for (const entry of lists[i].slice(position[i], position[i] + chunk)) {
        if (!opened.has(entry.id)) wanted.set(entry.id, entry);
      }
    });
    const entries = [...wanted.values()];
    const resources = await chart.read(entries);
    entries.forEach((entry, k) => opened.set(entry.id, { entry, resource: resources[k] }));
    needs.forEach((need, i) => {
      while (!settled[i] && position[i] < lists[i].length) {
        const next = opened.get(lists[i][position[i]].id);
        if (!next) break;
        position[i] += 1;
        if (need.settles(next.resource)) settled[i] = true;
      }
      if (position[i] >= lists[i].length) settled[i] = true;
    });
  }
  return [...opened.values()]
    .sort(
      (a, b) =>
        b.entry.effectiveAt.getTime() - a.entry.effectiveAt.getTime() ||
        (a.entry.id < b.entry.id ? 1 : a.entry.id > b.entry.id ? -1 : 0),
    )
    .map((x) => x.resource);
}

/** Whole years from a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) to `now`, in UTC. */
export function ageInYears(birthDate: string, now: Date): number | null {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(birthDate);
  if (!match) return null;
  const [year, month = 1, day = 1] = [Number(match[1]), Number(match[2] ?? 1), Number(match[3] ?? 1)];
  let age = now.getUTCFullYear() - year;
  const beforeBirthday =
    now.getUTCMonth() + 1 < month || (now.getUTCMonth() + 1 === month && now.getUTCDate() < day);
  if (beforeBirthday) age--;
  return age >= 0 ? age : null;
}
