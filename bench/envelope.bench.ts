/**
 * Opening an envelope as the node (the `open` stage of every read): the node's own copy as a v2
 * secretbox wrap against the v1 box wrap (one X25519 agreement per open) as baseline, same process.
 *
 *   npm run bench:envelope            (BENCH_ENVELOPES, default 2000)
 */
import { performance } from 'node:perf_hooks';
import nacl from 'tweetnacl';
import { openRecord, sealRecord, type RecordSealerOptions } from '../src/storage/envelope.js';

/** The p-th percentile of sorted values (nearest rank). */
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

const count = Number(process.env.BENCH_ENVELOPES ?? 2000);
const node = nacl.box.keyPair();
const patient = nacl.box.keyPair();
const plaintext = Buffer.from(JSON.stringify({ resourceType: 'Observation', note: 'x'.repeat(1500) }));
const recipients = [{ boxPublicKey: patient.publicKey }, { boxPublicKey: node.publicKey }];

function run(options: RecordSealerOptions): { perSecond: number; p50: number; p99: number; cpuUs: number } {
  const envelopes = Array.from({ length: count }, () => sealRecord({ plaintext, recipients }, options));
  for (const envelope of envelopes.slice(0, 200)) openRecord({ envelope, boxSecretKey: node.secretKey });
  const times: number[] = [];
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (const envelope of envelopes) {
    const t = performance.now();
    openRecord({ envelope, boxSecretKey: node.secretKey });
    times.push(performance.now() - t);
  }
  const elapsed = performance.now() - start;
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  return {
    perSecond: (count / elapsed) * 1000,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    cpuUs: (used.user + used.system) / count,
  };
}

const baseline = run({});
const selfWrapped = run({ selfSecretKey: node.secretKey });
const row = (label: string, r: ReturnType<typeof run>) =>
  `| ${label} | ${r.perSecond.toFixed(0)} | ${(r.p50 * 1000).toFixed(0)} | ${(r.p99 * 1000).toFixed(0)} | ${r.cpuUs.toFixed(0)} |`;
console.log(`openRecord as the node, ${count} envelopes of ${plaintext.byteLength} B`);
console.log('| node copy | opens/s | p50 µs | p99 µs | CPU µs/open |\n| --- | ---: | ---: | ---: | ---: |');
console.log(row('v1 box (baseline)', baseline));
console.log(row('v2 secretbox', selfWrapped));
console.log(`ratio vs baseline: ${(selfWrapped.perSecond / baseline.perSecond).toFixed(2)}x opens/s`);
