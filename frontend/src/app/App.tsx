import { useEffect, useState } from "react";
import { Navigate, Route, Routes } from "react-router-dom";
import { SignIn } from "../features/signin/SignIn";
import { clearToken, isExpired, storeToken, storedToken, takeTokenFromUrl } from "./token";
import { SessionProvider, useProjects } from "./session";
import { lastProject } from "./recent";
import { Shell } from "./Shell";

function initialToken(): { token: string | null; message?: string } {
  const token = takeTokenFromUrl() ?? storedToken();
  if (token && isExpired(token)) {
    clearToken();
    return { token: null, message: "Your session has expired. Sign in again." };
  }
  return { token };
}

export function App() {
  const [state, setState] = useState(initialToken);
  // Opening a sign-in link in a tab that already shows the app changes only the fragment.
  useEffect(() => {
    const onHash = () => {
      if (/token=/.test(location.hash)) setState(initialToken());
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  if (!state.token) {
    return (
      <Routes>
        <Route
          path="*"
          element={
            <SignIn
              message={state.message}
              onToken={(token) => {
                if (isExpired(token)) {
                  setState({ token: null, message: "That token has expired. Ask for a new sign-in link." });
                  return;
                }
                storeToken(token);
                setState({ token });
              }}
            />
          }
        />
      </Routes>
    );
  }
  return (
    <SessionProvider
      key={state.token}
      token={state.token}
      onSignOut={(message) => {
        clearToken();
        setState({ token: null, message });
      }}
    >
      <Routes>
        <Route path="/" element={<Home />} />
        <Route path="/signin" element={<Navigate to="/projects" replace />} />
        <Route path="/*" element={<Shell />} />
      </Routes>
    </SessionProvider>
  );
}

/** Where the sign-in link lands: the project last open in this browser, the only project, or the list. */
function Home() {
  const list = useProjects();
  if (!list.loaded) return null;
  const keys = list.projects.map((r) => r.project?.key ?? "");
  const last = lastProject();
  const key = last && keys.includes(last) ? last : keys.length === 1 ? keys[0] : undefined;
  return <Navigate to={key ? `/p/${key}/board` : "/projects"} replace />;
}
