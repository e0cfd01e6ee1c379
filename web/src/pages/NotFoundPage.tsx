import { Link } from "react-router";
import { useT } from "../lib/i18n";
import { usePageTitle } from "../lib/usePageTitle";

export function NotFoundPage() {
  const { t } = useT();
  usePageTitle(t("notFound.title"));
  return (
    <>
      <h1>{t("notFound.title")}</h1>
      <p>{t("notFound.body")}</p>
      <p>
        <Link to="/concerts">{t("notFound.home")}</Link>
      </p>
    </>
  );
}
