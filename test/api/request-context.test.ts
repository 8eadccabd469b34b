import { RequestContext, type Services } from '../../src/resolvers/context.js';
import { historyLoader, resourceLoader } from '../../src/resolvers/record-loaders.js';

describe('RequestContext: what one execution keeps', () => {
  const context = () => new RequestContext({} as Services, async () => null, { maxDecryptions: 10 });

  it('keeps one loader of each kind per execution, and a subscription event starts with new ones', () => {
    const ctx = context();
    const first = resourceLoader(ctx);
    expect(resourceLoader(ctx)).toBe(first);
    expect(historyLoader(ctx)).not.toBe(first);
    ctx.decryptions.take(7);
    // What a subscription does after delivering each event: its caches and its budget go with it.
    ctx.nextEvent();
    expect(resourceLoader(ctx)).not.toBe(first);
    expect(ctx.decryptions.decrypted).toBe(0);
  });

  it('never shares loaders between two requests', () => {
    expect(resourceLoader(context())).not.toBe(resourceLoader(context()));
  });
});
