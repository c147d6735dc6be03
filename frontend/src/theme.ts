import { createTheme } from "@mantine/core";

// One neutral palette (Mantine's gray/dark) and one accent (indigo). Density: 14 px base, compact
// controls.
export const theme = createTheme({
  primaryColor: "indigo",
  colors: {
    // "To do" in the status colours: a blue-grey between backlog grey and in-progress blue.
    slate: ["#f1f4f8", "#e2e7ee", "#c3ccd9", "#a2b0c4", "#8698b2", "#7489a8", "#6a81a4", "#596e8f", "#4e6281", "#405473"],
  },
  fontFamily: "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
  fontFamilyMonospace: "ui-monospace, SFMono-Regular, Menlo, monospace",
  headings: { fontFamily: "Inter, system-ui, sans-serif", fontWeight: "600" },
  fontSizes: { xs: "11px", sm: "13px", md: "14px", lg: "16px", xl: "18px" },
  defaultRadius: "md",
  cursorType: "pointer",
  components: {
    Button: { defaultProps: { size: "xs" } },
    TextInput: { defaultProps: { size: "xs" } },
    Select: { defaultProps: { size: "xs" } },
    MultiSelect: { defaultProps: { size: "xs" } },
    NumberInput: { defaultProps: { size: "xs" } },
    Textarea: { defaultProps: { size: "xs" } },
    Badge: { defaultProps: { radius: "sm" } },
  },
});

/** Status colours, the same everywhere. Indexed by WorkItemStatus. */
export const STATUS_COLOR: Record<number, string> = {
  1: "gray",
  2: "slate",
  3: "blue",
  4: "grape",
  5: "teal",
};
