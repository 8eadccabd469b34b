import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import { REQUEST_ID_HEADER } from './request-id.js';

export interface HttpHardeningOptions {
  /** Send Strict-Transport-Security: only when clients reach the node over https (its public URL). */
  hsts: boolean;
  /** Browser origins allowed to call the API; empty sends no CORS headers at all. */
  corsOrigins: string[];
}

/**
 * helmet's headers, set for an API: every JSON answer gets a CSP that allows nothing, since no
 * document should ever render one. The one HTML page, Apollo's landing page on GET /graphql,
 * brings its own per-request nonce CSP in a meta tag; a header CSP would add to it and block the
 * page's CDN scripts, so that response keeps every helmet header but CSP.
 */
export function securityHeaders(options: Pick<HttpHardeningOptions, 'hsts'>): RequestHandler {
  const common = {
    strictTransportSecurity: options.hsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  } as const;
  const api = helmet({
    ...common,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
  });
  const landingPage = helmet({ ...common, contentSecurityPolicy: false });
  return (req, res, next) =>
    (wantsLandingPage(req.method, req.path, req.headers.accept) ? landingPage : api)(req, res, next);
}

/** Apollo serves its landing page to a GET on /graphql that prefers HTML. */
function wantsLandingPage(method: string, path: string, accept: string | undefined): boolean {
  return method === 'GET' && path === '/graphql' && !!accept && accept.includes('text/html');
}

/**
 * CORS for the allowlisted origins only (`cors` answers their preflights with 204); without an
 * allowlist, nothing, so browsers keep to the same-origin rule.
 */
export function corsAllowlist(origins: string[]): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  return cors({
    origin: origins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'Authorization', REQUEST_ID_HEADER],
    exposedHeaders: [REQUEST_ID_HEADER],
    maxAge: 600,
  });
}
