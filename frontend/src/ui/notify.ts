import { notifications } from "@mantine/notifications";
import { RequestError } from "../net/protocol";

/** An error as a short toast with the server's message. */
export function notifyError(e: unknown, title = "That did not work") {
  const message = e instanceof Error ? e.message : String(e);
  notifications.show({ color: "red", title, message, autoClose: 6000 });
}

/** Runs an action, toasting its error (validation errors with a field are left to the form). */
export async function attempt<T>(f: () => Promise<T>, title?: string): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RequestError && e.isConflict) return undefined; // the conflict dialog shows it
    notifyError(e, title);
    return undefined;
  }
}
