/** The dashboard's files, served by the REST server from memory: no build step, no CDN. */
import { DASHBOARD_HTML } from './page.js';
import { DASHBOARD_CSS } from './style.js';
import { DASHBOARD_JS } from './script.js';

export interface Asset {
  contentType: string;
  body: string;
}

export const DASHBOARD_ASSETS: Readonly<Record<string, Asset>> = {
  '/index.html': { contentType: 'text/html; charset=utf-8', body: DASHBOARD_HTML },
  '/dashboard.css': { contentType: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
  '/dashboard.js': { contentType: 'text/javascript; charset=utf-8', body: DASHBOARD_JS },
};
