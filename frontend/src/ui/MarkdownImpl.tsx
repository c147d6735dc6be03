// Markdown rendering (GitHub flavour), in its own chunk: loaded the first time a description or
// comment is shown, not with the board.
import Markdown from "react-markdown";
import remarkGfm from "remark-gfm";

// Task-list checkboxes are read-only and need a name.
const COMPONENTS = {
  input: (props: React.InputHTMLAttributes<HTMLInputElement>) => <input {...props} aria-label={props.checked ? "Done" : "Not done"} />,
};

export default function MarkdownImpl({ children }: { children: string }) {
  return (
    <Markdown remarkPlugins={[remarkGfm]} components={COMPONENTS}>
      {children}
    </Markdown>
  );
}
