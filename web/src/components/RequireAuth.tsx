// Pages for signed-in fans (and admins) send everyone else to the sign-in page and back.
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useAuth, type SignInState } from "../lib/auth";
import { useT } from "../lib/i18n";

export function RequireAuth({ children }: { children: ReactNode }) {
  const { user, endedReason } = useAuth();
  const location = useLocation();
  const { t } = useT();
  if (!user) {
    const state: SignInState = { from: location.pathname + location.search, message: endedReason ?? t("auth.required") };
    return <Navigate to="/signin" replace state={state} />;
  }
  return <>{children}</>;
}

export function RequireAdmin({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const { t } = useT();
  if (user && user.role !== "ADMIN") {
    return (
      <>
        <h1>{t("nav.admin")}</h1>
        <p className="alert alert-error" role="alert">
          {t("admin.forbidden")}
        </p>
      </>
    );
  }
  return <RequireAuth>{children}</RequireAuth>;
}

/** Door staff's pages (the scanner): staff and admins. */
export function RequireStaff({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const { t } = useT();
  if (user && user.role !== "STAFF" && user.role !== "ADMIN") {
    return (
      <>
        <h1>{t("nav.scan")}</h1>
        <p className="alert alert-error" role="alert">
          {t("staff.forbidden")}
        </p>
      </>
    );
  }
  return <RequireAuth>{children}</RequireAuth>;
}
