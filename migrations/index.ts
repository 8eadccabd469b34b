import type { MigrationInterface } from 'typeorm';
import { Initial1795632973598 } from './1795632973598-Initial.js';

/** Every migration in order; new ones are generated with `npm run migration:generate` and added here. */
export const migrations: (new () => MigrationInterface)[] = [Initial1795632973598];
