// The live seat map: a canvas (never a node per seat) with pan, zoom and fit, a keyboard seat
// cursor read out in a polite live region, a legend, and a hidden summary of the counts.
import { useCallback, useEffect, useId, useMemo, useRef, useState, type CSSProperties, type JSX, type KeyboardEvent, type PointerEvent } from "react";
import { AVAILABLE, buildIdIndex, countStates, HELD, RESERVED, SOLD } from "./availability";
import { FOCUS_OUTLINE, gradeColors, LABEL, MUTED_LABEL, SELECTED_OUTLINE, STATE_COLORS } from "./colors";
import { buildGeometry, fit, hitTest, neighbour, seatCenter, toWorld, zoomAt, type Direction, type View } from "./geometry";
import { describeSeat, formatCount, formatPriceRange, gradeEntries, TEXT } from "./labels";
import { SeatRenderer } from "./render";
import { useSeatData, useSeatStore } from "./useSeatAvailability";

export interface SeatMapProps {
  concertId: number;
  /** Seats the fan has picked (held or about to be). */
  selected: readonly number[];
  /** Most seats the fan may pick; picking more is refused with a reason shown on the map. */
  maxSelectable: number;
  /** A click / Enter / Space on a seat: the page decides (holds or releases it). */
  onToggle: (seatId: number) => void;
  /** Labels in the chosen language. */
  lang: "ko" | "en";
}

const ZOOM_STEP = 1.5;
/** Largest zoom: a seat about 80 CSS pixels wide. */
const MAX_SCALE = 10;
const PAN_STEP = 60;
const MESSAGE_MS = 4_000;
const DRAG_THRESHOLD = 4;

const visuallyHidden: CSSProperties = {
  position: "absolute",
  width: 1,
  height: 1,
  padding: 0,
  margin: -1,
  overflow: "hidden",
  clip: "rect(0 0 0 0)",
  whiteSpace: "nowrap",
  border: 0,
};

const buttonStyle: CSSProperties = {
  minWidth: 36,
  height: 36,
  padding: "0 10px",
  border: `1px solid ${MUTED_LABEL}`,
  borderRadius: 6,
  background: "#ffffff",
  color: LABEL,
  font: "inherit",
  fontSize: 16,
  cursor: "pointer",
};

const ARROWS: Record<string, Direction> = {
  ArrowLeft: "left",
  ArrowRight: "right",
  ArrowUp: "up",
  ArrowDown: "down",
};

export function SeatMap({ concertId, selected, maxSelectable, onToggle, lang }: SeatMapProps): JSX.Element {
  const t = TEXT[lang];
  const store = useSeatStore(concertId);
  const { layout, states, version, error } = useSeatData(store);
  const geometry = useMemo(() => (layout ? buildGeometry(layout) : undefined), [layout]);
  const colors = useMemo(() => (layout ? gradeColors(layout) : []), [layout]);
  const idIndex = useMemo(() => (layout ? buildIdIndex(layout.ids) : new Map<number, number>()), [layout]);
  const selectedIndices = useMemo(() => {
    const out: number[] = [];
    for (const id of selected) {
      const i = idIndex.get(id);
      if (i !== undefined) out.push(i);
    }
    return out;
  }, [selected, idIndex]);
  const selectedIds = useMemo(() => new Set(selected), [selected]);

  const wrapRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const rendererRef = useRef<SeatRenderer | null>(null);
  const sizeRef = useRef({ width: 0, height: 0 });
  const fittedRef = useRef<unknown>(null);
  const [focus, setFocus] = useState(-1);
  const [hasFocus, setHasFocus] = useState(false);
  const [message, setMessage] = useState<string>();
  const [announcement, setAnnouncement] = useState("");
  const ids = useId();
  const helpId = `${ids}-help`;
  const summaryId = `${ids}-summary`;

  // The renderer lives as long as the canvas.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const renderer = new SeatRenderer(canvas);
    rendererRef.current = renderer;
    return () => {
      renderer.destroy();
      rendererRef.current = null;
    };
  }, []);

  const statesRef = useRef(states);
  statesRef.current = states;

  // Scene: whenever the layout, selection or cursor changes.
  useEffect(() => {
    const renderer = rendererRef.current;
    if (!renderer || !geometry || !layout) return;
    renderer.setScene({
      geometry,
      gradeIndex: layout.grade.index,
      gradeColors: colors,
      states: () => statesRef.current,
      selected: selectedIndices,
      focus,
      showFocus: hasFocus,
    });
  }, [geometry, layout, colors, selectedIndices, focus, hasFocus]);

  // Live states: repaint the seats that changed (the store says which), outside React.
  useEffect(() => {
    if (!store) return;
    const onChange = () => {
      statesRef.current = store.data.states;
      rendererRef.current?.statesChanged(store.takeChanges());
    };
    onChange();
    return store.subscribe(onChange);
  }, [store]);

  const minScale = useCallback(() => {
    const { width, height } = sizeRef.current;
    return geometry ? Math.min(fit(geometry.bounds, width, height).scale * 0.5, 1) : 0.01;
  }, [geometry]);

  const setView = useCallback((view: View) => rendererRef.current?.setView(view), []);

  const fitView = useCallback(() => {
    const { width, height } = sizeRef.current;
    if (geometry && width > 0) setView(fit(geometry.bounds, width, height));
  }, [geometry, setView]);

  const zoomBy = useCallback(
    (factor: number, sx?: number, sy?: number) => {
      const renderer = rendererRef.current;
      if (!renderer) return;
      const { width, height } = sizeRef.current;
      setView(zoomAt(renderer.getView(), factor, sx ?? width / 2, sy ?? height / 2, minScale(), MAX_SCALE));
    },
    [minScale, setView],
  );

  const panBy = useCallback(
    (dx: number, dy: number) => {
      const renderer = rendererRef.current;
      if (!renderer) return;
      const v = renderer.getView();
      setView({ ...v, ox: v.ox + dx, oy: v.oy + dy });
    },
    [setView],
  );

  // Size (device-pixel-ratio aware); fit the map when it first has a size or a new layout.
  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const apply = () => {
      const rect = wrap.getBoundingClientRect();
      sizeRef.current = { width: rect.width, height: rect.height };
      rendererRef.current?.resize(rect.width, rect.height, window.devicePixelRatio || 1);
      if (geometry && rect.width > 0 && fittedRef.current !== geometry) {
        fittedRef.current = geometry;
        fitView();
      }
    };
    apply();
    const observer = new ResizeObserver(apply);
    observer.observe(wrap);
    // A change of devicePixelRatio (zoom, another screen) does not resize the box.
    const media = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    media.addEventListener("change", apply);
    return () => {
      observer.disconnect();
      media.removeEventListener("change", apply);
    };
  }, [geometry, fitView]);

  // A reason shown on the map for a while.
  useEffect(() => {
    if (!message) return;
    const timer = setTimeout(() => setMessage(undefined), MESSAGE_MS);
    return () => clearTimeout(timer);
  }, [message]);

  const pick = useCallback(
    (i: number) => {
      if (!layout || i < 0 || i >= layout.ids.length) return;
      const id = layout.ids[i]!;
      if (selectedIds.has(id)) return onToggle(id);
      const state = statesRef.current?.[i];
      if (state === undefined) return setMessage(t.loadingStates);
      if (state === HELD) return setMessage(t.taken);
      if (state !== AVAILABLE) return setMessage(t.sold);
      if (selected.length >= maxSelectable) return setMessage(t.max(maxSelectable));
      setMessage(undefined);
      onToggle(id);
    },
    [layout, selectedIds, selected.length, maxSelectable, onToggle, t],
  );

  /** Pans just enough to show seat `i`. */
  const reveal = useCallback(
    (i: number) => {
      const renderer = rendererRef.current;
      if (!renderer || !geometry) return;
      const v = renderer.getView();
      const c = seatCenter(geometry, i);
      const sx = c.x * v.scale + v.ox;
      const sy = c.y * v.scale + v.oy;
      const { width, height } = sizeRef.current;
      const margin = 40;
      let dx = 0;
      let dy = 0;
      if (sx < margin) dx = margin - sx;
      else if (sx > width - margin) dx = width - margin - sx;
      if (sy < margin) dy = margin - sy;
      else if (sy > height - margin) dy = height - margin - sy;
      if (dx || dy) setView({ ...v, ox: v.ox + dx, oy: v.oy + dy });
    },
    [geometry, setView],
  );

  const moveFocus = useCallback(
    (next: number) => {
      setFocus(next);
      if (next >= 0) reveal(next);
    },
    [reveal],
  );

  const firstSeat = useCallback((): number => {
    const s = statesRef.current;
    if (!geometry || geometry.count === 0) return -1;
    if (s) for (let i = 0; i < s.length; i++) if (s[i] === AVAILABLE) return i;
    return 0;
  }, [geometry]);

  const onKeyDown = (event: KeyboardEvent<HTMLCanvasElement>) => {
    if (!geometry) return;
    const dir = ARROWS[event.key];
    if (dir && (event.shiftKey || event.altKey)) {
      event.preventDefault();
      const d = { left: [PAN_STEP, 0], right: [-PAN_STEP, 0], up: [0, PAN_STEP], down: [0, -PAN_STEP] }[dir];
      panBy(d[0]!, d[1]!);
      return;
    }
    if (dir) {
      event.preventDefault();
      moveFocus(focus < 0 ? firstSeat() : neighbour(geometry, focus, dir));
      return;
    }
    switch (event.key) {
      case "Enter":
      case " ":
        event.preventDefault();
        if (focus >= 0) pick(focus);
        else moveFocus(firstSeat());
        return;
      case "Home":
      case "End": {
        if (focus < 0) return;
        event.preventDefault();
        const row = geometry.rows[geometry.rowOf[focus]!]!;
        moveFocus(row.seats[event.key === "Home" ? 0 : row.seats.length - 1]!);
        return;
      }
      case "+":
      case "=":
        event.preventDefault();
        zoomBy(ZOOM_STEP);
        return;
      case "-":
      case "_":
        event.preventDefault();
        zoomBy(1 / ZOOM_STEP);
        return;
      case "0":
        event.preventDefault();
        fitView();
        return;
      case "Escape":
        setMessage(undefined);
        return;
    }
  };

  // Pointer: drag pans, a tap picks, two fingers pinch.
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const drag = useRef({ moved: false, startX: 0, startY: 0 });
  const local = (event: { clientX: number; clientY: number }) => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  };

  const onPointerDown = (event: PointerEvent<HTMLCanvasElement>) => {
    const p = local(event);
    event.currentTarget.setPointerCapture?.(event.pointerId);
    pointers.current.set(event.pointerId, p);
    if (pointers.current.size === 1) drag.current = { moved: false, startX: p.x, startY: p.y };
    else drag.current.moved = true; // a pinch is never a tap
  };

  const onPointerMove = (event: PointerEvent<HTMLCanvasElement>) => {
    const p = local(event);
    const prev = pointers.current.get(event.pointerId);
    if (!prev) {
      // Hover: a hand over a seat one can pick.
      if (geometry && rendererRef.current) {
        const w = toWorld(rendererRef.current.getView(), p.x, p.y);
        const i = hitTest(geometry, w.x, w.y);
        const pickable = i >= 0 && (statesRef.current?.[i] === AVAILABLE || selectedIds.has(layout?.ids[i] ?? -1));
        event.currentTarget.style.cursor = pickable ? "pointer" : "grab";
      }
      return;
    }
    if (pointers.current.size === 2) {
      const [a, b] = [...pointers.current.entries()];
      const other = a![0] === event.pointerId ? b![1] : a![1];
      const before = Math.hypot(prev.x - other.x, prev.y - other.y);
      const after = Math.hypot(p.x - other.x, p.y - other.y);
      pointers.current.set(event.pointerId, p);
      if (before > 0) zoomBy(after / before, (p.x + other.x) / 2, (p.y + other.y) / 2);
      panBy((p.x - prev.x) / 2, (p.y - prev.y) / 2);
      return;
    }
    pointers.current.set(event.pointerId, p);
    if (!drag.current.moved && Math.hypot(p.x - drag.current.startX, p.y - drag.current.startY) > DRAG_THRESHOLD) {
      drag.current.moved = true;
      panBy(p.x - drag.current.startX, p.y - drag.current.startY);
    } else if (drag.current.moved) {
      panBy(p.x - prev.x, p.y - prev.y);
    }
  };

  const onPointerUp = (event: PointerEvent<HTMLCanvasElement>) => {
    const had = pointers.current.delete(event.pointerId);
    if (!had || pointers.current.size > 0 || drag.current.moved || event.type === "pointercancel") return;
    if (!geometry || !rendererRef.current) return;
    const p = local(event);
    const w = toWorld(rendererRef.current.getView(), p.x, p.y);
    const i = hitTest(geometry, w.x, w.y);
    if (i < 0) return;
    setFocus(i);
    pick(i);
  };

  // Wheel: zoom at the pointer; Shift+wheel (or a sideways scroll) pans. Not passive, to keep the
  // page from scrolling under the map.
  const wheelRef = useRef<(event: WheelEvent) => void>(() => {});
  wheelRef.current = (event: WheelEvent) => {
    event.preventDefault();
    const scale = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1;
    const dx = event.deltaX * scale;
    const dy = event.deltaY * scale;
    if (event.shiftKey) return panBy(-(dx || dy), 0);
    if (!event.ctrlKey && Math.abs(dx) > Math.abs(dy)) return panBy(-dx, 0);
    const p = local(event);
    zoomBy(Math.exp(-dy * (event.ctrlKey ? 0.01 : 0.002)), p.x, p.y);
  };
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const listener = (event: WheelEvent) => wheelRef.current(event);
    canvas.addEventListener("wheel", listener, { passive: false });
    return () => canvas.removeEventListener("wheel", listener);
  }, []);

  // The focused seat read out, again whenever its state or the fan's pick of it changes.
  const focusText = useMemo(() => {
    if (!layout || focus < 0 || focus >= layout.ids.length) return "";
    return describeSeat(layout, focus, states?.[focus], selectedIds.has(layout.ids[focus]!), lang);
    // `version` changes when `states` changed in place.
  }, [layout, focus, states, version, selectedIds, lang]);
  useEffect(() => {
    if (focusText) setAnnouncement(focusText);
  }, [focusText]);
  useEffect(() => {
    if (message) setAnnouncement(message);
  }, [message]);

  // A focus that outlived its layout.
  useEffect(() => {
    if (geometry && focus >= geometry.count) setFocus(-1);
  }, [geometry, focus]);

  const counts = useMemo(
    () => (states ? countStates(states) : undefined),
    [states, version],
  );
  const summary = counts
    ? t.summary(formatCount(states!.length, lang), [
        t.countPart(t.state[AVAILABLE]!, formatCount(counts[AVAILABLE], lang)),
        t.countPart(t.legendState[HELD]!, formatCount(counts[HELD], lang)),
        t.countPart(t.legendState[RESERVED]!, formatCount(counts[RESERVED], lang)),
        t.countPart(t.legendState[SOLD]!, formatCount(counts[SOLD], lang)),
      ])
    : t.loading;

  const grades = useMemo(() => (layout ? gradeEntries(layout) : []), [layout]);

  return (
    <section lang={lang} aria-label={t.map} style={{ display: "flex", flexDirection: "column", gap: 8, color: LABEL }}>
      <div style={{ display: "flex", gap: 6, alignItems: "center", flexWrap: "wrap" }}>
        <button type="button" style={buttonStyle} aria-label={t.zoomIn} title={t.zoomIn} onClick={() => zoomBy(ZOOM_STEP)}>
          +
        </button>
        <button
          type="button"
          style={buttonStyle}
          aria-label={t.zoomOut}
          title={t.zoomOut}
          onClick={() => zoomBy(1 / ZOOM_STEP)}
        >
          −
        </button>
        <button type="button" style={buttonStyle} aria-label={t.fit} title={t.fit} onClick={fitView}>
          {t.fitShort}
        </button>
        <span style={{ marginLeft: "auto", fontSize: 14 }}>{t.selectedCount(selected.length, maxSelectable)}</span>
      </div>
      <div
        ref={wrapRef}
        style={{
          position: "relative",
          width: "100%",
          height: "min(70vh, 640px)",
          minHeight: 280,
          border: `1px solid ${MUTED_LABEL}`,
          borderRadius: 8,
          overflow: "hidden",
          background: "#ffffff",
        }}
      >
        <canvas
          ref={canvasRef}
          role="application"
          aria-roledescription={t.mapRole}
          aria-label={t.map}
          aria-describedby={`${helpId} ${summaryId}`}
          tabIndex={0}
          onKeyDown={onKeyDown}
          onFocus={() => {
            setHasFocus(true);
            if (focus < 0) setFocus(firstSeat());
          }}
          onBlur={() => setHasFocus(false)}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
          onPointerLeave={(e) => {
            if (!pointers.current.has(e.pointerId)) e.currentTarget.style.cursor = "";
          }}
          style={{
            display: "block",
            width: "100%",
            height: "100%",
            touchAction: "none",
            outline: hasFocus ? `3px solid ${FOCUS_OUTLINE}` : "none",
            outlineOffset: -3,
          }}
        />
        {!layout && (
          <p role={error ? "alert" : undefined} style={{ position: "absolute", inset: 0, margin: "auto", height: "1.5em", textAlign: "center" }}>
            {error ? `${t.loadError}: ${error.message}` : t.loading}
          </p>
        )}
        <div
          role="status"
          style={{
            position: "absolute",
            left: "50%",
            bottom: 12,
            transform: "translateX(-50%)",
            maxWidth: "90%",
            padding: message ? "8px 14px" : 0,
            borderRadius: 6,
            background: message ? LABEL : "transparent",
            color: "#ffffff",
            fontSize: 15,
            pointerEvents: "none",
          }}
        >
          {message}
        </div>
      </div>
      <p id={helpId} style={visuallyHidden}>
        {t.help}
      </p>
      <p id={summaryId} style={visuallyHidden}>
        {summary}
      </p>
      <div aria-live="polite" aria-atomic="true" style={visuallyHidden}>
        {announcement}
      </div>
      <ul
        aria-label={t.legend}
        style={{ display: "flex", flexWrap: "wrap", gap: "6px 16px", listStyle: "none", margin: 0, padding: 0, fontSize: 14 }}
      >
        {grades.map((g) => (
          <li key={g.grade} style={{ display: "flex", alignItems: "center", gap: 6 }}>
            <Swatch fill={colors[g.index] ?? MUTED_LABEL} />
            <span>
              {g.grade} {formatPriceRange(g, lang)}
            </span>
          </li>
        ))}
        {[HELD, RESERVED, SOLD].map((s) => (
          <li key={s} style={{ display: "flex", alignItems: "center", gap: 6 }}>
            <Swatch fill={STATE_COLORS[s]!} />
            <span>{t.legendState[s]}</span>
          </li>
        ))}
        <li style={{ display: "flex", alignItems: "center", gap: 6 }}>
          <Swatch fill="#ffffff" outline={SELECTED_OUTLINE} />
          <span>{t.mine}</span>
        </li>
      </ul>
    </section>
  );
}

function Swatch({ fill, outline }: { fill: string; outline?: string }) {
  return (
    <span
      aria-hidden="true"
      style={{
        display: "inline-block",
        width: 14,
        height: 14,
        borderRadius: 2,
        background: fill,
        boxSizing: "border-box",
        border: outline ? `3px solid ${outline}` : "none",
      }}
    />
  );
}
