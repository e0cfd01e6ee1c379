// The signed-in fan, on top of the client's session store: sign up, sign in, sign out, and a
// redirect to the sign-in page with the server's reason when the session ends because its
// refresh was refused (e.g. `REFRESH_TOKEN_REUSED`).
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useNavigate } from "react-router";
import {
  api,
  currentSession,
  onSessionChange,
  setSession,
  unwrap,
  type Schemas,
  type Session,
} from "./api/client";
import { proveHuman } from "./challenge/proof";

export interface AuthUser {
  username: string;
  email: string;
  role: Schemas["Role"];
}

interface AuthContextValue {
  user: AuthUser | null;
  /** The server's reason when the last session ended on its own (a refused refresh). */
  endedReason: string | null;
  /** `onChecking` is told while the bot check's work runs (when the server asks for one). */
  signUp: (body: Schemas["SignupRequest"], onChecking?: (checking: boolean) => void) => Promise<void>;
  signIn: (body: Schemas["LoginRequest"]) => Promise<void>;
  signOut: () => Promise<void>;
}

/** What the sign-in page shows when it was reached because a session ended. */
export interface SignInState {
  message?: string;
  from?: string;
}

const AuthContext = createContext<AuthContextValue | null>(null);

function userOf(session: Session | null): AuthUser | null {
  return session ? { username: session.username, email: session.email, role: session.role } : null;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<AuthUser | null>(() => userOf(currentSession()));
  const [endedReason, setEndedReason] = useState<string | null>(null);
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  useEffect(
    () =>
      onSessionChange((session, reason) => {
        setUser(userOf(session));
        setEndedReason(session ? null : (reason?.message ?? null));
        if (!session) {
          queryClient.removeQueries({ queryKey: ["me"] });
          if (reason) {
            const from = window.location.pathname + window.location.search;
            navigate("/signin", { state: { message: reason.message, from } satisfies SignInState });
          }
        }
      }),
    [navigate, queryClient],
  );

  const signIn = useCallback(async (body: Schemas["LoginRequest"]) => {
    setSession(await unwrap(api.POST("/api/user/login", { body })));
  }, []);

  const signUp = useCallback(
    async (body: Schemas["SignupRequest"], onChecking?: (checking: boolean) => void) => {
      const header = await proveHuman({ purpose: "SIGNUP" }, onChecking);
      // The answer is a session: the new account is signed in at once.
      setSession(await unwrap(api.POST("/api/user/signup", { body, params: { header } })));
    },
    [],
  );

  const signOut = useCallback(async () => {
    const session = currentSession();
    if (session) {
      // Ending the session locally matters more than the server hearing about it.
      await api.POST("/api/user/logout", { body: { refreshToken: session.refreshToken } }).catch(() => undefined);
    }
    setSession(null);
    queryClient.removeQueries({ queryKey: ["me"] });
  }, [queryClient]);

  const value = useMemo(
    () => ({ user, endedReason, signUp, signIn, signOut }),
    [user, endedReason, signUp, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
