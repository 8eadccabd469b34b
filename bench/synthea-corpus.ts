/**
 * Synthea-shaped bundles for benchmarks: real Synthea patient histories (test/fixtures/synthea, or
 * any folder of `*.json.bz2` transaction Bundles such as the 59 histories the Blaze project publishes)
 * copied with fresh ids and shifted dates, so one history can stand for many patients without two of
 * them sharing a resource id.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_HISTORIES = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../test/fixtures/synthea',
);

interface Entry {
  fullUrl?: string;
  resource: { resourceType: string; [key: string]: unknown };
  request?: unknown;
}

export interface SyntheaBundle {
  resourceType: 'Bundle';
  type: 'transaction';
  entry: Entry[];
}

/** One history as JSON text with the uuid of its Patient, ready to be copied. */
export interface History {
  name: string;
  text: string;
  patientUuid: string;
  entries: number;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const DATE = /"(\d{4})-(\d\d)-(\d\d)/g;
const INTERNAL_REFERENCE = /"reference":"urn:uuid:([0-9a-f-]{36})"/g;

/** The patient histories of a folder (Bundles with a Patient entry; the batch bundles are skipped). */
export function loadHistories(dir = process.env.BENCH_SYNTHEA_DIR ?? FIXTURE_HISTORIES): History[] {
  const histories: History[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.json.bz2')) continue;
    const text = execFileSync('bzcat', [path.join(dir, file)], { maxBuffer: 256 << 20 }).toString();
    const bundle = JSON.parse(text) as SyntheaBundle;
    if (bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) continue;
    const patient = bundle.entry.find((e) => e.resource?.resourceType === 'Patient');
    if (!patient || typeof patient.resource.id !== 'string') continue;
    // Compact, so the reference pattern below sees `"reference":"…"` without spaces.
    histories.push({
      name: file,
      text: JSON.stringify(bundle),
      patientUuid: patient.resource.id,
      entries: bundle.entry.length,
    });
  }
  if (histories.length === 0) throw new Error(`no Synthea patient histories in ${dir}`);
  return histories;
}

/**
 * A copy of a history with every uuid replaced by a fresh one (ids, fullUrls, references and
 * identifiers stay consistent with each other) and every date moved `yearsBack` years (a multiple
 * of 4, so 29 February stays a real day except across 1900). `patientUuid`, when given, is the
 * fresh uuid its Patient gets (to merge histories into one chart).
 */
export function freshCopy(history: History, yearsBack: number, patientUuid?: string): SyntheaBundle {
  const fresh = new Map<string, string>();
  if (patientUuid) fresh.set(history.patientUuid, patientUuid);
  const text = history.text
    .replace(UUID, (uuid) => {
      let next = fresh.get(uuid);
      if (!next) fresh.set(uuid, (next = randomUUID()));
      return next;
    })
    .replace(DATE, (_match, year: string, month: string, day: string) => {
      const shifted = Number(year) - yearsBack;
      const leap = (shifted % 4 === 0 && shifted % 100 !== 0) || shifted % 400 === 0;
      return `"${String(shifted).padStart(4, '0')}-${month}-${month === '02' && day === '29' && !leap ? '28' : day}`;
    });
  return JSON.parse(text) as SyntheaBundle;
}

/**
 * One patient's transaction Bundle of exactly `entries` entries (fewer only if the histories run
 * out): the first history whole, then the other histories' entries moved onto the same Patient, cut
 * where needed and cleared of entries whose `urn:uuid:` references no longer name an entry.
 */
export function syntheaBundle(histories: readonly History[], entries: number, seed = 0): SyntheaBundle {
  const first = histories[seed % histories.length];
  const bundle = freshCopy(first, 4 * (seed % 8));
  const patientUuid = bundle.entry.find((e) => e.resource.resourceType === 'Patient')!.resource.id as string;
  for (let i = 1; bundle.entry.length < entries && i < histories.length * 4; i += 1) {
    const more = freshCopy(histories[(seed + i) % histories.length], 4 * ((seed + i) % 8), patientUuid);
    bundle.entry.push(...more.entry.filter((e) => e.resource.resourceType !== 'Patient'));
  }
  // Cutting can strand entries (a Claim whose Encounter was cut); take more until `entries` remain.
  const pool = bundle.entry;
  let cut = entries;
  bundle.entry = withoutDanglingReferences(pool.slice(0, cut));
  while (bundle.entry.length < entries && cut < pool.length) {
    cut = Math.min(pool.length, cut + entries - bundle.entry.length);
    bundle.entry = withoutDanglingReferences(pool.slice(0, cut));
  }
  bundle.entry = withoutDanglingReferences(bundle.entry.slice(0, entries));
  return bundle;
}

/** Leaves out entries that refer by `urn:uuid:` to an entry that is not there, until none does. */
export function withoutDanglingReferences(entries: Entry[]): Entry[] {
  let kept = entries;
  for (;;) {
    const present = new Set(kept.map((e) => e.fullUrl));
    const next = kept.filter((e) =>
      [...JSON.stringify(e.resource).matchAll(INTERNAL_REFERENCE)].every((m) =>
        present.has(`urn:uuid:${m[1]}`),
      ),
    );
    if (next.length === kept.length) return kept;
    kept = next;
  }
}
