import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { ErrorAlert } from "../components/ErrorAlert";
import { Field } from "../components/Field";
import { useAuth, type SignInState } from "../lib/auth";
import { fieldErrors } from "../lib/errors";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

export function SignUpPage() {
  const { t } = useT();
  const { signUp } = useAuth();
  const navigate = useNavigate();
  const state = (useLocation().state ?? {}) as SignInState;
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [checking, setChecking] = useState(false);
  const fields = fieldErrors(error);
  usePageTitle(t("auth.signup.title"));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signUp({ username, email, password }, setChecking);
      navigate(state.from && !state.from.startsWith("/sign") ? state.from : "/concerts", { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="auth-page">
      <h1>{t("auth.signup.title")}</h1>
      <form onSubmit={submit} className="card form" noValidate>
        <ErrorAlert error={error} />
        <Field
          label={t("auth.username")}
          hint={t("auth.usernameHint")}
          name="username"
          autoComplete="nickname"
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          error={fields.username}
        />
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
          hint={t("auth.passwordHint")}
          type="password"
          name="password"
          autoComplete="new-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fields.password}
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          {checking ? t("challenge.checking") : busy ? t("auth.submitting") : t("auth.signup.submit")}
        </button>
        {checking && (
          <p role="status" className="muted">
            {t("challenge.explain")}
          </p>
        )}
        <p className="form-footer">
          {t("auth.haveAccount")} <Link to="/signin" state={state}>{t("nav.signin")}</Link>
        </p>
      </form>
    </div>
  );
}
