// The frame of every page: a skip link, the header (brand, main navigation, language, account)
// and the main landmark the pages render into.
import { NavLink, Outlet, useNavigate, Link } from "react-router";
import { useAuth } from "../lib/auth";
import { LANGS, useT } from "../lib/i18n";

export function Layout() {
  const { t, lang, setLang } = useT();
  const { user, signOut } = useAuth();
  const navigate = useNavigate();

  return (
    <>
      <a className="skip-link" href="#main">
        {t("app.skip")}
      </a>
      <header className="site-header">
        <div className="container header-inner">
          <Link to="/concerts" className="brand">
            {t("app.brand")}
          </Link>
          <nav aria-label={t("nav.label")} className="main-nav">
            <ul>
              <li>
                <NavLink to="/concerts">{t("nav.concerts")}</NavLink>
              </li>
              {user && (
                <li>
                  <NavLink to="/me/reservations">{t("nav.reservations")}</NavLink>
                </li>
              )}
              {user && (
                <li>
                  <NavLink to="/tickets">{t("nav.tickets")}</NavLink>
                </li>
              )}
              {(user?.role === "STAFF" || user?.role === "ADMIN") && (
                <li>
                  <NavLink to="/scan">{t("nav.scan")}</NavLink>
                </li>
              )}
              {user?.role === "ADMIN" && (
                <li>
                  <NavLink to="/admin">{t("nav.admin")}</NavLink>
                </li>
              )}
            </ul>
          </nav>
          <div className="header-tools">
            <div role="group" aria-label={t("lang.label")} className="lang-toggle">
              {LANGS.map((l) => (
                <button
                  key={l}
                  type="button"
                  lang={l}
                  aria-pressed={lang === l}
                  onClick={() => setLang(l)}
                >
                  {t(`lang.${l}`)}
                </button>
              ))}
            </div>
            {user ? (
              <div className="account">
                <span className="account-name">{t("nav.user", { name: user.username })}</span>
                <button
                  type="button"
                  className="button button-quiet"
                  onClick={async () => {
                    await signOut();
                    navigate("/concerts");
                  }}
                >
                  {t("nav.signout")}
                </button>
              </div>
            ) : (
              <div className="account">
                <Link to="/signin" className="button button-quiet">
                  {t("nav.signin")}
                </Link>
                <Link to="/signup" className="button">
                  {t("nav.signup")}
                </Link>
              </div>
            )}
          </div>
        </div>
      </header>
      <main id="main" className="container" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
