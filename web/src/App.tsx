// The app shell: providers, the header and the route table. The seat-selection page and the
// admin pages are loaded on demand, so the first load stays small.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router";
import { ApiError } from "./lib/api/client";
import { AuthProvider } from "./lib/auth";
import { LanguageProvider } from "./lib/i18n";
import { Layout } from "./components/Layout";
import { Loading } from "./components/Loading";
import { RequireAdmin, RequireAuth, RequireStaff } from "./components/RequireAuth";
import { SignInPage } from "./pages/SignInPage";
import { SignUpPage } from "./pages/SignUpPage";
import { ConcertsPage } from "./pages/ConcertsPage";
import { ConcertPage } from "./pages/ConcertPage";
import { CheckoutPage } from "./pages/CheckoutPage";
import { ReservationsPage } from "./pages/ReservationsPage";
import { TicketsPage } from "./pages/TicketsPage";
import { NotFoundPage } from "./pages/NotFoundPage";

const SeatsPage = lazy(() => import("./pages/SeatsPage"));
const ScanPage = lazy(() => import("./pages/ScanPage"));
const AdminRoutes = lazy(() => import("./pages/AdminSlot").then((m) => ({ default: m.AdminRoutes })));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // A 4xx will not change on retry; network trouble and 503 may.
      retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status < 500),
    },
  },
});

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <LanguageProvider>
        <BrowserRouter>
          <AuthProvider>
            <Routes>
              <Route element={<Layout />}>
                <Route index element={<Navigate to="/concerts" replace />} />
                <Route path="concerts" element={<ConcertsPage />} />
                <Route path="concerts/:concertId" element={<ConcertPage />} />
                <Route
                  path="concerts/:concertId/seats"
                  element={
                    <RequireAuth>
                      <Suspense fallback={<Loading />}>
                        <SeatsPage />
                      </Suspense>
                    </RequireAuth>
                  }
                />
                <Route
                  path="checkout/:transactionId"
                  element={
                    <RequireAuth>
                      <CheckoutPage />
                    </RequireAuth>
                  }
                />
                <Route
                  path="me/reservations"
                  element={
                    <RequireAuth>
                      <ReservationsPage />
                    </RequireAuth>
                  }
                />
                <Route
                  path="tickets"
                  element={
                    <RequireAuth>
                      <TicketsPage />
                    </RequireAuth>
                  }
                />
                <Route
                  path="scan"
                  element={
                    <RequireStaff>
                      <Suspense fallback={<Loading />}>
                        <ScanPage />
                      </Suspense>
                    </RequireStaff>
                  }
                />
                <Route path="signin" element={<SignInPage />} />
                <Route path="signup" element={<SignUpPage />} />
                <Route
                  path="admin/*"
                  element={
                    <RequireAdmin>
                      <Suspense fallback={<Loading />}>
                        <AdminRoutes />
                      </Suspense>
                    </RequireAdmin>
                  }
                />
                <Route path="*" element={<NotFoundPage />} />
              </Route>
            </Routes>
          </AuthProvider>
        </BrowserRouter>
      </LanguageProvider>
    </QueryClientProvider>
  );
}
