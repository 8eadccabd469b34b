import { parentPort } from 'node:worker_threads';
import { entryVerdict, planEntry } from './bundle.js';
import { loadFhirDefinitions } from './fhir-validation.js';
import type { ValidationJob, ValidationReply } from './validation-pool.js';

/*
 * One thread of the bundle validation pool (validation-pool.ts): checks chunks of Bundle entries
 * with the main thread's own code and answers only verdicts, never resources.
 */
const port = parentPort!;
loadFhirDefinitions();
port.on('message', (job: ValidationJob) => {
  let reply: ValidationReply;
  try {
    reply = {
      kind: 'verdicts',
      id: job.id,
      verdicts: job.entries.map((raw, i) =>
        entryVerdict(planEntry(raw, job.firstIndex + i, job.transaction, job.options)),
      ),
    };
  } catch (error) {
    reply = { kind: 'failed', id: job.id, error: (error as Error).message };
  }
  port.postMessage(reply);
});
port.postMessage({ kind: 'ready' } satisfies ValidationReply);
