import { useEffect } from "react";
import { useT } from "./i18n";

/** Names the browser tab after the page: `<page> · <brand>`. */
export function usePageTitle(title: string | undefined): void {
  const { t } = useT();
  const brand = t("app.brand");
  useEffect(() => {
    document.title = title ? `${title} · ${brand}` : brand;
  }, [title, brand]);
}
