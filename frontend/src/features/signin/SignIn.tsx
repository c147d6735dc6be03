import { Alert, Box, Button, Center, Code, Paper, Stack, Text, Textarea, Title } from "@mantine/core";
import { IconInfoCircle } from "@tabler/icons-react";
import { useState } from "react";

export function SignIn({ message, onToken }: { message?: string; onToken: (token: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  return (
    <Center h="100vh" bg="var(--mantine-color-body)">
      <Stack w={420} gap="lg">
        <Stack gap={4} align="center">
          <Box
            w={40}
            h={40}
            style={{ borderRadius: 10, background: "var(--mantine-primary-color-filled)", display: "grid", placeItems: "center" }}
          >
            <Text c="white" fw={700} fz={20}>
              pm
            </Text>
          </Box>
          <Title order={2} fz={22} mt="sm">
            Sign in to pm
          </Title>
          <Text c="dimmed" size="sm" ta="center">
            Open the sign-in link the server printed, or paste a token.
          </Text>
        </Stack>
        {message && (
          <Alert color="orange" icon={<IconInfoCircle size={16} />} role="alert">
            {message}
          </Alert>
        )}
        <Paper withBorder p="lg" radius="md" shadow="xs">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              const t = token.trim();
              if (t.split(".").length !== 3) {
                setError("That does not look like a token: it has three parts separated by dots.");
                return;
              }
              onToken(t);
            }}
          >
            <Stack gap="sm">
              <Textarea
                label="Access token"
                placeholder="eyJhbGciOi…"
                autosize
                minRows={3}
                maxRows={6}
                value={token}
                error={error}
                onChange={(e) => {
                  setToken(e.currentTarget.value);
                  setError(null);
                }}
                styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)", fontSize: 12 } }}
              />
              <Button type="submit" size="sm" fullWidth>
                Sign in
              </Button>
            </Stack>
          </form>
        </Paper>
        <Text c="dimmed" size="xs" ta="center">
          Running locally? <Code>./scripts/run</Code> prints a link; <Code>pm-server token</Code> makes one for any
          user.
        </Text>
      </Stack>
    </Center>
  );
}
