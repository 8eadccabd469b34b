// Entry point for the TypeORM CLI only (`npm run migration:generate`); the node itself never imports it.
import { createDataSource } from './data-source.js';

export default createDataSource(
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/omnichart_dev',
);
