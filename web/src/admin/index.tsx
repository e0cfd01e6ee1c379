// The organiser's pages, mounted by the shell at /admin/*. Only an admin gets past the guard.
import "./admin.css";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore, type JSX } from "react";
import { Link, NavLink, Outlet, Route, Routes, useLocation } from "react-router";
import { ApiError, currentSession, onSessionChange, setApiLanguage } from "../lib/api/client";
import { ADMIN_KEY, useMe } from "./api";
import { useAdminT } from "./i18n";
import { adminPaths, SIGN_IN_PATH } from "./paths";
import { ConcertFormPage } from "./pages/ConcertFormPage";
import { ConcertsPage } from "./pages/ConcertsPage";
import { ReservationsPage } from "./pages/ReservationsPage";
import { SalePage } from "./pages/SalePage";
import { SeatsPage } from "./pages/SeatsPage";
import { ErrorNote, Loading } from "./ui";

export function AdminRoutes(): JSX.Element {
  return (
    <Routes>
      <Route element={<AdminGuard />}>
        <Route element={<AdminLayout />}>
          <Route index element={<ConcertsPage />} />
          <Route path="concerts/new" element={<ConcertFormPage />} />
          <Route path="concerts/:concertId" element={<ConcertFormPage />} />
          <Route path="concerts/:concertId/seats" element={<SeatsPage />} />
          <Route path="concerts/:concertId/sale" element={<SalePage />} />
          <Route path="reservations" element={<ReservationsPage />} />
          <Route path="*" element={<AdminNotFound />} />
        </Route>
      </Route>
    </Routes>
  );
}

function useSignedIn(): boolean {
  return useSyncExternalStore(
    (onChange) => onSessionChange(onChange),
    () => currentSession() !== null,
  );
}

/** Renders the admin pages for an admin, and a "not allowed" page for anyone else. */
function AdminGuard() {
  const { lang } = useAdminT();
  const signedIn = useSignedIn();
  const queryClient = useQueryClient();
  const me = useMe(signedIn);

  useEffect(() => setApiLanguage(lang), [lang]);
  // A different account (or none) must not see the previous one's data; a token refresh of
  // the same account keeps it.
  useEffect(() => {
    let email = currentSession()?.email;
    const stop = onSessionChange((next) => {
      if (next?.email !== email) queryClient.removeQueries({ queryKey: [ADMIN_KEY] });
      email = next?.email;
    });
    return () => {
      stop();
    };
  }, [queryClient]);

  if (!signedIn) return <NotAllowed reason="signedOut" />;
  if (me.isPending) return <Loading />;
  if (me.isError) {
    if (me.error instanceof ApiError && me.error.status === 401) {
      return <NotAllowed reason="signedOut" />;
    }
    return <ErrorNote error={me.error} />;
  }
  if (me.data.role !== "ADMIN") return <NotAllowed reason="notAdmin" />;
  return <Outlet />;
}

function NotAllowed({ reason }: { reason: "signedOut" | "notAdmin" }) {
  const { t } = useAdminT();
  const location = useLocation();
  return (
    <div className="admin admin-denied">
      <h1>{t("denied.title")}</h1>
      <p>{reason === "signedOut" ? t("denied.signedOut") : t("denied.notAdmin")}</p>
      <p>
        <Link
          className="admin-button"
          to={SIGN_IN_PATH}
          state={{ from: location.pathname + location.search }}
        >
          {reason === "signedOut" ? t("denied.signIn") : t("denied.signInOther")}
        </Link>{" "}
        <Link to="/">{t("denied.home")}</Link>
      </p>
    </div>
  );
}

function AdminLayout() {
  const { t, lang } = useAdminT();
  return (
    <div className="admin" lang={lang}>
      <header className="admin-header">
        <p className="admin-brand">{t("layout.title")}</p>
        <nav aria-label={t("layout.nav")}>
          <ul>
            <li>
              <NavLink to={adminPaths.concerts} end>
                {t("layout.concerts")}
              </NavLink>
            </li>
            <li>
              <NavLink to={adminPaths.reservations()}>{t("layout.reservations")}</NavLink>
            </li>
          </ul>
        </nav>
      </header>
      <Outlet />
    </div>
  );
}

function AdminNotFound() {
  const { t } = useAdminT();
  return (
    <section>
      <h1>{t("notFound.title")}</h1>
      <p>
        <Link to={adminPaths.concerts}>{t("notFound.back")}</Link>
      </p>
    </section>
  );
}
