/**
 * A minimal router: `GET /api/jobs/:id` style patterns, exact segment matches, and the methods
 * a path allows (for 405 with `Allow`).
 */

export type Params = Record<string, string>;

interface Route<H> {
  method: string;
  segments: string[];
  handler: H;
}

export type Match<H> = { kind: 'found'; handler: H; params: Params } | { kind: 'method'; allowed: string[] } | { kind: 'none' };

export class Router<H> {
  private readonly routes: Array<Route<H>> = [];

  add(method: string, pattern: string, handler: H): this {
    this.routes.push({ method, segments: split(pattern), handler });
    return this;
  }

  match(method: string, path: string): Match<H> {
    const parts = split(path);
    const allowed: string[] = [];
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method) return { kind: 'found', handler: route.handler, params };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

function matchSegments(pattern: string[], parts: string[]): Params | null {
  if (pattern.length !== parts.length) return null;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const part = parts[i]!;
    if (p.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return null;
      }
      params[p.slice(1)] = value;
    } else if (p !== part) {
      return null;
    }
  }
  return params;
}
