/** GraphQL documents the chart, import and subscription tests share. */
export const IMPORT_BUNDLE = `
  mutation ($patient: String!, $bundle: JSON!) {
    importBundle(patient: $patient, bundle: $bundle) {
      created updated unchanged rejected written
      entries { index fullUrl resourceType recordId version outcome code reason }
    }
  }`;

export const RECORD_ADDED = `
  subscription ($patient: String!) {
    recordAdded(patient: $patient) { id patient resourceType version fullUrl resource }
  }`;
