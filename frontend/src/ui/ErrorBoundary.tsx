import { Alert, Button, Stack } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import { Component, type ReactNode } from "react";

/** One per screen: a crash in one view leaves the rest of the app usable. */
export class ErrorBoundary extends Component<{ children: ReactNode; name: string }, { error: Error | null }> {
  state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  componentDidCatch(error: Error) {
    console.error(`pm: ${this.props.name} failed`, error);
  }
  render() {
    if (!this.state.error) return this.props.children;
    return (
      <Stack p="lg" maw={560}>
        <Alert color="red" icon={<IconAlertTriangle size={16} />} title={`The ${this.props.name} could not be shown`}>
          {this.state.error.message}
        </Alert>
        <Button variant="default" onClick={() => this.setState({ error: null })} w="fit-content">
          Try again
        </Button>
      </Stack>
    );
  }
}
