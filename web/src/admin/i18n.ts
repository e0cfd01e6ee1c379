// The admin pages' strings, until they are wired to the shell's i18n provider: the language
// comes from localStorage ("ticketing.lang", default Korean) and follows the `storage` event
// (another tab) and the `ticketing:lang` event (this tab).
import { useCallback, useSyncExternalStore } from "react";
import { adminMessages, type AdminMessageKey } from "./messages";

export type AdminLang = keyof typeof adminMessages;

const STORAGE_KEY = "ticketing.lang";
const LANG_EVENT = "ticketing:lang";

export function readLang(): AdminLang {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) === "en" ? "en" : "ko";
  } catch {
    return "ko";
  }
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener("storage", onChange);
  window.addEventListener(LANG_EVENT, onChange);
  return () => {
    window.removeEventListener("storage", onChange);
    window.removeEventListener(LANG_EVENT, onChange);
  };
}

/** Replaces `{name}` in a message with `vars.name`. */
export function format(template: string, vars?: Record<string, string | number>): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

export type AdminT = (key: AdminMessageKey, vars?: Record<string, string | number>) => string;

/** The language and a translator for the admin pages. */
export function useAdminT(): { lang: AdminLang; t: AdminT } {
  const lang = useSyncExternalStore(subscribe, readLang, () => "ko" as AdminLang);
  const t = useCallback<AdminT>(
    (key, vars) => format(adminMessages[lang][key], vars),
    [lang],
  );
  return { lang, t };
}
