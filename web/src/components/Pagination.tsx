import { useT } from "../lib/i18n";

/** Previous / next over zero-based pages. */
export function Pagination({ page, totalPages, onPage }: { page: number; totalPages: number; onPage: (page: number) => void }) {
  const { t } = useT();
  if (totalPages <= 1) return null;
  return (
    <nav aria-label={t("common.pagination")} className="pagination">
      <button type="button" className="button button-quiet" disabled={page <= 0} onClick={() => onPage(page - 1)}>
        {t("common.prev")}
      </button>
      <span aria-current="page">{t("common.page", { page: page + 1, total: totalPages })}</span>
      <button
        type="button"
        className="button button-quiet"
        disabled={page + 1 >= totalPages}
        onClick={() => onPage(page + 1)}
      >
        {t("common.next")}
      </button>
    </nav>
  );
}
