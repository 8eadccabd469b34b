// Row mapping lives with the stores; kept here for the modules that import it from records.
export { recordFromRow } from '../storage/record-rows.js';
