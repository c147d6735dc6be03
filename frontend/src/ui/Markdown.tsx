import { lazy, Suspense } from "react";

const Impl = lazy(() => import("./MarkdownImpl"));

/** Markdown, rendered by a chunk loaded on first use (the raw text shows meanwhile). */
export function Markdown({ children }: { children: string }) {
  return (
    <Suspense fallback={<div style={{ whiteSpace: "pre-wrap" }}>{children}</div>}>
      <Impl>{children}</Impl>
    </Suspense>
  );
}
