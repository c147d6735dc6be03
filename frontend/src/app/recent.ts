// The project last open in this browser, so the sign-in link lands where the user left off.
const KEY = "pm.lastProject";

export function lastProject(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function rememberProject(key: string): void {
  try {
    localStorage.setItem(KEY, key);
  } catch {
    /* private mode: nothing to remember */
  }
}
