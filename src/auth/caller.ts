import type { Role } from '../storage/entities/index.js';

/** Who is asking: resolved from the bearer token once per request. */
export interface Caller {
  address: string;
  role: Role;
  sessionId: string;
}

export const ROLES: readonly Role[] = ['PATIENT', 'PRACTITIONER', 'ORGANIZATION', 'ANALYST', 'ADMIN'];
