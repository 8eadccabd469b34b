import type { Resource } from '@medplum/fhirtypes';

export const LOINC = 'http://loinc.org';

/** The vital signs the chart summary shows, by LOINC code (glucose has two common codes). */
export const VITAL_SIGNS = [
  {
    kind: 'bloodPressure',
    label: 'Blood pressure',
    codes: ['85354-9'],
    components: [
      { code: '8480-6', label: 'Systolic blood pressure' },
      { code: '8462-4', label: 'Diastolic blood pressure' },
    ],
  },
  { kind: 'heartRate', label: 'Heart rate', codes: ['8867-4'], components: [] },
  { kind: 'bmi', label: 'Body mass index', codes: ['39156-5'], components: [] },
  { kind: 'weight', label: 'Body weight', codes: ['29463-7'], components: [] },
  { kind: 'height', label: 'Body height', codes: ['8302-2'], components: [] },
  { kind: 'temperature', label: 'Body temperature', codes: ['8310-5'], components: [] },
  { kind: 'glucose', label: 'Glucose', codes: ['2339-0', '2345-7'], components: [] },
] as const;

export interface VitalSignComponentValue {
  code: string;
  label: string;
  value: number | null;
  unit: string | null;
}

export interface VitalSignValue {
  kind: string;
  label: string;
  system: string;
  code: string;
  value: number | null;
  unit: string | null;
  components: VitalSignComponentValue[];
  effectiveAt: Date;
  recordId: string;
}

interface Quantity {
  value?: number;
  unit?: string;
  code?: string;
}
interface CodedValue {
  code?: { coding?: { system?: string; code?: string }[] };
  valueQuantity?: Quantity;
  component?: CodedValue[];
}

const hasCode = (item: CodedValue, code: string) =>
  item.code?.coding?.some((c) => c.system === LOINC && c.code === code) ?? false;

/**
 * Reads one vital sign out of a decrypted Observation: its own valueQuantity when its code matches,
 * else the component with that code; blood pressure takes its systolic/diastolic components.
 */
export function vitalSignOf(
  definition: (typeof VITAL_SIGNS)[number],
  code: string,
  resource: Resource,
  recordId: string,
  effectiveAt: Date,
): VitalSignValue {
  const observation = resource as unknown as CodedValue;
  const source = hasCode(observation, code)
    ? observation
    : (observation.component?.find((c) => hasCode(c, code)) ?? {});
  return {
    kind: definition.kind,
    label: definition.label,
    system: LOINC,
    code,
    value: source.valueQuantity?.value ?? null,
    unit: source.valueQuantity?.unit ?? source.valueQuantity?.code ?? null,
    components: definition.components.map(({ code: componentCode, label }) => {
      const component = observation.component?.find((c) => hasCode(c, componentCode));
      return {
        code: componentCode,
        label,
        value: component?.valueQuantity?.value ?? null,
        unit: component?.valueQuantity?.unit ?? component?.valueQuantity?.code ?? null,
      };
    }),
    effectiveAt,
    recordId,
  };
}
