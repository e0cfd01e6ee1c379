// A live countdown to a moment, on the shared clock.
import { formatCountdown } from "../lib/format";
import { useT } from "../lib/i18n";
import { useNow } from "../lib/useNow";

export function Countdown({ to, className }: { to: string | number; className?: string }) {
  const now = useNow();
  const { lang } = useT();
  const target = typeof to === "number" ? to : Date.parse(to);
  return (
    <span className={`countdown ${className ?? ""}`} role="timer">
      {formatCountdown(target - now, lang)}
    </span>
  );
}
