import { useT } from "../lib/i18n";

export function Loading() {
  const { t } = useT();
  return (
    <p className="loading" role="status">
      {t("common.loading")}
    </p>
  );
}
