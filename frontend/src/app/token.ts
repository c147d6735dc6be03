// The sign-in token: read from the printed link's `#token=…` (then removed from the address bar),
// kept in session storage for this tab, and decoded (without verifying: the server does that) to
// know when it expires.
const KEY = "pm.token";

export interface TokenClaims {
  sub?: string;
  tenant_id?: string;
  role?: string;
  exp?: number;
}

/** Takes a token from the URL fragment, if there is one, and stores it. */
export function takeTokenFromUrl(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!m?.[1]) return null;
  const token = decodeURIComponent(m[1]);
  storeToken(token);
  const { pathname, search } = window.location;
  window.history.replaceState(null, "", pathname + search);
  return token;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}

export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

export function decodeClaims(token: string): TokenClaims | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as TokenClaims;
  } catch {
    return null;
  }
}

export function isExpired(token: string, now = Date.now()): boolean {
  const exp = decodeClaims(token)?.exp;
  return typeof exp === "number" && exp * 1000 <= now;
}

/** Asks the REST API whether the server accepts the token (a refused WebSocket upgrade says nothing). */
export async function checkToken(token: string): Promise<"ok" | "refused" | "unknown"> {
  try {
    const res = await fetch("/api/v1/projects", { headers: { Authorization: `Bearer ${token}` } });
    if (res.status === 401) return "refused";
    return res.ok ? "ok" : "unknown";
  } catch {
    return "unknown";
  }
}
