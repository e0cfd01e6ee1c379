import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { ErrorAlert, Notice } from "../components/ErrorAlert";
import { Field } from "../components/Field";
import { useAuth, type SignInState } from "../lib/auth";
import { fieldErrors } from "../lib/errors";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

export function SignInPage() {
  const { t } = useT();
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const state = (useLocation().state ?? {}) as SignInState;
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fields = fieldErrors(error);
  usePageTitle(t("auth.signin.title"));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn({ email, password });
      navigate(state.from && state.from !== "/signin" ? state.from : "/concerts", { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth-page">
      <h1>{t("auth.signin.title")}</h1>
      {state.message && !error && <Notice kind="warning">{state.message}</Notice>}
      <form onSubmit={submit} className="card form" noValidate>
        <ErrorAlert error={error} />
        <Field
          label={t("auth.email")}
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={fields.email}
        />
        <Field
          label={t("auth.password")}
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fields.password}
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? t("auth.submitting") : t("auth.signin.submit")}
        </button>
        <p className="form-footer">
          {t("auth.noAccount")} <Link to="/signup" state={state}>{t("nav.signup")}</Link>
        </p>
      </form>
    </div>
  );
}
