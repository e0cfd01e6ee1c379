// The one API client: openapi-fetch typed by the generated `schema.d.ts` (no hand-written
// request or response types). Every call carries the access token and the chosen language; a
// 401 refreshes the session once (one refresh at a time, shared by concurrent calls) and
// retries; a refresh that fails signs the fan out with the server's reason.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type ErrorBody = Schemas["ErrorBody"];
export type Session = Schemas["AuthResponse"];

const STORAGE_KEY = "ticketing.session";

type SessionListener = (session: Session | null, reason?: ErrorBody) => void;

let session: Session | null = loadSession();
let language = "ko";
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<SessionListener>();

function loadSession(): Session | null {
  try {
    const raw = globalThis.localStorage?.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

/** The signed-in session, if any. */
export function currentSession(): Session | null {
  return session;
}

/** Stores (or clears) the session and tells every listener; `reason` says why it ended. */
export function setSession(next: Session | null, reason?: ErrorBody): void {
  session = next;
  if (next) globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(next));
  else globalThis.localStorage?.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener(next, reason);
}

export function onSessionChange(listener: SessionListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The language of server messages (`Accept-Language`). */
export function setApiLanguage(lang: string): void {
  language = lang;
}

export function apiLanguage(): string {
  return language;
}

const baseUrl = globalThis.location?.origin ?? "http://localhost:8080";

/** Exchanges the refresh token once; concurrent 401s wait for the same exchange. */
async function refresh(): Promise<boolean> {
  const current = session;
  if (!current) return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch(`${baseUrl}/api/user/refresh`, {
        method: "POST",
        headers: { "content-type": "application/json", "accept-language": language },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
      if (res.ok) {
        setSession((await res.json()) as Session);
        return true;
      }
      const reason = (await res.json().catch(() => undefined)) as ErrorBody | undefined;
      setSession(null, reason);
      return false;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

const auth: Middleware = {
  async onRequest({ request }) {
    request.headers.set("accept-language", language);
    if (session && !request.headers.has("authorization")) {
      request.headers.set("authorization", `Bearer ${session.token}`);
    }
    // Kept to retry after a refresh (a body can be read once).
    retryable.set(request, request.clone());
    return request;
  },
  async onResponse({ request, response }) {
    const copy = retryable.get(request);
    retryable.delete(request);
    const path = new URL(request.url).pathname;
    if (response.status !== 401 || !copy || !session || path.startsWith("/api/user/")) {
      return response;
    }
    if (!(await refresh()) || !session) return response;
    copy.headers.set("authorization", `Bearer ${session.token}`);
    return fetch(copy);
  },
};

const retryable = new WeakMap<Request, Request>();

/** The typed client: `api.GET("/api/concert/{id}", { params: { path: { id } } })`. */
export const api = createClient<paths>({ baseUrl });
api.use(auth);

/** Thrown by `unwrap` for a non-2xx answer: the server's error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
  ) {
    super(body?.message ?? `HTTP ${status}`);
  }

  get code(): string | undefined {
    return this.body?.code;
  }
}

/** The data of an openapi-fetch answer, or an `ApiError` with the server's message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, error as ErrorBody | undefined);
  return data as T;
}
