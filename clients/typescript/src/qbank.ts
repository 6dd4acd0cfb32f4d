// A thin TypeScript client for the Question Bank API: the types openapi-typescript
// generates from openapi.yaml (./schema.d.ts, generated at build time, see README.md)
// and openapi-fetch, plus what every frontend otherwise writes itself: a session that
// refreshes itself when the access token expires, an ETag-aware cache of GETs, an
// iterator over paged lists that follows `Link: rel="next"`, and problems as typed errors.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type ProblemSlug = paths["/problems/{slug}"]["get"]["parameters"]["path"]["slug"];
export type ProblemType = `/problems/${ProblemSlug}`;
export type Problem = Schemas["Problem"] & { [extension: string]: unknown };

/** An RFC 9457 problem the API answered, typed by its `type`. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.name = "ProblemError";
  }

  get type(): ProblemType {
    return this.problem.type as ProblemType;
  }

  /** Whether this is a problem of that kind, e.g. `error.is("token-expired")`. */
  is(slug: ProblemSlug): boolean {
    return this.problem.type === `/problems/${slug}`;
  }
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export interface QbankOptions {
  baseUrl: string;
  /** The fetch to use (the global one by default). */
  fetch?: typeof fetch;
  /** Called with every new pair of tokens (after login and each refresh), to keep them. */
  onTokens?: (tokens: Tokens) => void;
  /** GET answers kept for revalidation, the least recently used dropped first (200). */
  cacheEntries?: number;
}

interface Cached {
  etag: string;
  body: string;
  headers: [string, string][];
}

async function problemOf(response: Response): Promise<ProblemError> {
  let problem: Problem;
  try {
    problem = (await response.clone().json()) as Problem;
  } catch {
    problem = { type: "/problems/internal-error", title: response.statusText, status: response.status } as Problem;
  }
  return new ProblemError(response.status, problem);
}

/** The URL of `Link: <...>; rel="next"`, if any. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (match) return match[1];
  }
  return null;
}

export class Qbank {
  readonly api: Client<paths>;
  private tokens: Tokens | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly cache = new Map<string, Cached>();
  private readonly base: string;
  private readonly rawFetch: typeof fetch;
  /** How many GETs were answered from the cache after a 304 (for the curious). */
  revalidated = 0;

  constructor(private readonly options: QbankOptions) {
    this.base = options.baseUrl.replace(/\/$/, "");
    this.rawFetch = options.fetch ?? fetch;
    this.api = createClient<paths>({
      baseUrl: this.base,
      fetch: (request: Request) => this.send(request),
    });
  }

  /** Open a session; later calls carry its access token and refresh it when it expires. */
  async login(email: string, password: string): Promise<Schemas["User"]> {
    const { data, error, response } = await this.api.POST("/api/v1/auth/login", {
      body: { email, password },
    });
    if (error || !data) throw await problemOf(response);
    this.setTokens({ access_token: data.access_token, refresh_token: data.refresh_token });
    return data.user;
  }

  /** Use tokens kept from an earlier session. */
  resume(tokens: Tokens): void {
    this.tokens = tokens;
  }

  async logout(): Promise<void> {
    if (!this.tokens) return;
    const response = await this.rawFetch(`${this.base}/api/v1/auth/logout`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.tokens.refresh_token}` },
    });
    this.tokens = null;
    this.cache.clear();
    if (!response.ok && response.status !== 401) throw await problemOf(response);
  }

  /** Every item of a paged list, page after page, following `Link: rel="next"`. */
  async *items<T = unknown>(path: string): AsyncGenerator<T> {
    let url: string | null = path.startsWith("http") ? path : `${this.base}${path}`;
    while (url) {
      const response = await this.send(new Request(url, { headers: { Accept: "application/json" } }));
      if (!response.ok) throw await problemOf(response);
      const page = (await response.json()) as { data: T[] };
      yield* page.data;
      url = nextLink(response.headers.get("Link"));
    }
  }

  /** The body of a successful answer, or the problem as a thrown ProblemError. */
  static async ok<T>(result: { data?: T; error?: unknown; response: Response }): Promise<T> {
    const error = result.error;
    if (error !== null && typeof error === "object" && "type" in error && "status" in error) {
      throw new ProblemError(result.response.status, error as Problem); // parsed by openapi-fetch
    }
    if (error !== undefined || result.data === undefined) {
      throw await problemOf(result.response);
    }
    return result.data;
  }

  private setTokens(tokens: Tokens): void {
    this.tokens = tokens;
    this.options.onTokens?.(tokens);
  }

  private authorized(request: Request): Request {
    if (!this.tokens || request.headers.has("Authorization")) return request;
    const headers = new Headers(request.headers);
    headers.set("Authorization", `Bearer ${this.tokens.access_token}`);
    return new Request(request, { headers });
  }

  private async refresh(): Promise<void> {
    // One refresh at a time: the API treats a refresh token presented twice as stolen.
    this.refreshing ??= (async () => {
      const tokens = this.tokens;
      if (!tokens) throw new Error("not signed in");
      const response = await this.rawFetch(`${this.base}/api/v1/auth/refresh`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tokens.refresh_token}` },
      });
      if (!response.ok) {
        this.tokens = null;
        throw await problemOf(response);
      }
      const body = (await response.json()) as Tokens;
      this.setTokens({ access_token: body.access_token, refresh_token: body.refresh_token });
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Every request goes through here: auth, refresh on `token-expired`, the GET cache. */
  private async send(original: Request): Promise<Response> {
    const replay = original.clone();
    let response = await this.exchange(original);
    if (response.status === 401 && this.tokens) {
      const problem = await problemOf(response);
      if (problem.is("token-expired")) {
        await this.refresh();
        const headers = new Headers(replay.headers);
        headers.delete("Authorization");
        response = await this.exchange(new Request(replay, { headers }));
      }
    }
    return response;
  }

  private async exchange(request: Request): Promise<Response> {
    request = this.authorized(request);
    const key = request.method === "GET" ? `${request.headers.get("Authorization") ?? ""} ${request.url}` : null;
    const cached = key ? this.cache.get(key) : undefined;
    if (cached && !request.headers.has("If-None-Match")) {
      const headers = new Headers(request.headers);
      headers.set("If-None-Match", cached.etag);
      request = new Request(request, { headers });
    }
    const response = await this.rawFetch(request);
    if (key && cached && response.status === 304) {
      this.revalidated += 1;
      this.cache.delete(key); // most recently used: last in line to be dropped
      this.cache.set(key, cached);
      return new Response(cached.body, { status: 200, headers: cached.headers });
    }
    const etag = response.headers.get("ETag");
    const storable = (response.headers.get("Cache-Control") ?? "").includes("no-store") === false;
    if (key && response.status === 200 && etag && storable) {
      const body = await response.clone().text();
      this.cache.delete(key); // re-inserted last: a Map keeps insertion order
      this.cache.set(key, { etag, body, headers: [...response.headers.entries()] });
      const limit = this.options.cacheEntries ?? 200;
      for (const oldest of this.cache.keys()) {
        if (this.cache.size <= limit) break;
        this.cache.delete(oldest);
      }
    }
    return response; // a problem reaches openapi-fetch as `error`; Qbank.ok throws it typed
  }
}
