// A concert's seats, a page at a time; one seat at a time can be edited in place or deleted.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, unwrap } from "../../lib/api/client";
import { keys, useSeats, type Seat } from "../api";
import { fieldErrors } from "../errors";
import { useAdminT } from "../i18n";
import { ActionName, ErrorNote, formatMoney, formatNumber, Loading, Pager } from "../ui";

const PAGE_SIZE = 50;
const EDITABLE = ["section", "row", "number", "grade", "price"] as const;

export function SeatList({ concertId }: { concertId: number }) {
  const { t, lang } = useAdminT();
  const [page, setPage] = useState(0);
  const [editing, setEditing] = useState<number | null>(null);
  const seats = useSeats(concertId, page, PAGE_SIZE);
  const headingId = useId();

  return (
    <section className="admin-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>{t("seats.listTitle")}</h2>
      {seats.isPending ? (
        <Loading />
      ) : seats.isError ? (
        <ErrorNote error={seats.error} />
      ) : seats.data.content.length === 0 ? (
        <p>{t("seats.empty")}</p>
      ) : (
        <>
          <p className="admin-muted">
            {t("seats.total", { count: formatNumber(seats.data.totalElements, lang) })}
          </p>
          <div className="admin-table-wrap">
            <table className="admin-table">
              <caption className="admin-visually-hidden">{t("seats.listTitle")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("seat.id")}</th>
                  <th scope="col">{t("seat.section")}</th>
                  <th scope="col">{t("seat.row")}</th>
                  <th scope="col">{t("seat.number")}</th>
                  <th scope="col">{t("seat.grade")}</th>
                  <th scope="col">{t("seat.price")}</th>
                  <th scope="col">{t("seat.status")}</th>
                  <th scope="col">{t("common.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {seats.data.content.map((seat) =>
                  editing === seat.id ? (
                    <SeatEditRow key={seat.id} seat={seat} onDone={() => setEditing(null)} />
                  ) : (
                    <SeatRow key={seat.id} seat={seat} onEdit={() => setEditing(seat.id)} />
                  ),
                )}
              </tbody>
            </table>
          </div>
          <Pager
            label={t("seats.pager")}
            page={page}
            totalPages={seats.data.totalPages}
            onPage={(next) => {
              setEditing(null);
              setPage(next);
            }}
          />
        </>
      )}
    </section>
  );
}

function seatLabel(seat: Pick<Seat, "section" | "row" | "number">): string {
  return `${seat.section}-${seat.row}-${seat.number}`;
}

function SeatRow({ seat, onEdit }: { seat: Seat; onEdit: () => void }) {
  const { t, lang } = useAdminT();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/seat/{id}", { params: { path: { id: seat.id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: keys.seats(seat.concertId) });
      void queryClient.invalidateQueries({ queryKey: keys.availability(seat.concertId) });
    },
  });
  const label = seatLabel(seat);
  return (
    <tr>
      <td>{seat.id}</td>
      <th scope="row">{seat.section}</th>
      <td>{seat.row}</td>
      <td>{seat.number}</td>
      <td>{seat.grade}</td>
      <td className="admin-num">{formatMoney(seat.price, lang)}</td>
      <td>
        <span className={`admin-badge admin-state-${seat.status.toLowerCase()}`}>
          {t(`seatState.${seat.status}`)}
        </span>
      </td>
      <td>
        <div className="admin-actions">
          <button type="button" onClick={onEdit}>
            <ActionName action={t("common.edit")} target={t("seats.seatName", { label })} />
          </button>
          <button
            type="button"
            className="admin-danger"
            disabled={remove.isPending}
            onClick={() => {
              if (window.confirm(t("seats.confirmDelete", { label }))) remove.mutate();
            }}
          >
            <ActionName action={t("common.delete")} target={t("seats.seatName", { label })} />
          </button>
        </div>
        <ErrorNote error={remove.error} />
      </td>
    </tr>
  );
}

function SeatEditRow({ seat, onDone }: { seat: Seat; onDone: () => void }) {
  const { t } = useAdminT();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState({
    section: seat.section,
    row: seat.row,
    number: seat.number,
    grade: seat.grade,
    price: String(seat.price),
  });
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT("/api/seat/{id}", {
          params: { path: { id: seat.id } },
          body: { ...draft, price: Number(draft.price) },
        }),
      ),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: keys.seats(seat.concertId) });
      onDone();
    },
  });
  const errors = fieldErrors(save.error);
  const label = seatLabel(seat);
  const input = (key: (typeof EDITABLE)[number]) => (
    <>
      <input
        type={key === "price" ? "number" : "text"}
        step={key === "price" ? "any" : undefined}
        min={key === "price" ? 0 : undefined}
        maxLength={key === "price" ? undefined : 20}
        className="admin-cell-input"
        aria-label={t("seats.fieldOf", { field: t(`seat.${key}`), label })}
        aria-invalid={errors[key] ? true : undefined}
        value={draft[key]}
        onChange={(e) => setDraft((d) => ({ ...d, [key]: e.target.value }))}
      />
      {errors[key] && <small className="admin-field-error">{errors[key]}</small>}
    </>
  );
  return (
    <tr className="admin-editing">
      <td>{seat.id}</td>
      <th scope="row">{input("section")}</th>
      <td>{input("row")}</td>
      <td>{input("number")}</td>
      <td>{input("grade")}</td>
      <td>{input("price")}</td>
      <td>{t(`seatState.${seat.status}`)}</td>
      <td>
        <div className="admin-actions">
          <button type="button" className="admin-primary" disabled={save.isPending} onClick={() => save.mutate()}>
            <ActionName action={t("common.save")} target={t("seats.seatName", { label })} />
          </button>
          <button type="button" onClick={onDone}>
            {t("common.cancel")}
          </button>
        </div>
        <ErrorNote error={save.error} shownBeside={EDITABLE} />
      </td>
    </tr>
  );
}
