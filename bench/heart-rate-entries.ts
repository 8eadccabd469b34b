/** A Bundle entry of benchmark data: an hourly heart-rate Observation, numbered `i`, with a stable fullUrl. */
export function heartRateEntry(
  i: number,
  options: { idPrefix: string; firstDay: Date; subject?: string; request?: boolean },
) {
  return {
    fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    resource: {
      resourceType: 'Observation',
      id: `${options.idPrefix}-${i}`,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
      ...(options.subject ? { subject: { reference: options.subject } } : {}),
      effectiveDateTime: new Date(options.firstDay.getTime() + i * 3_600_000).toISOString(),
      valueQuantity: {
        value: 50 + (i % 60),
        unit: '/min',
        system: 'http://unitsofmeasure.org',
        code: '/min',
      },
    },
    ...(options.request ? { request: { method: 'POST', url: 'Observation' } } : {}),
  };
}
