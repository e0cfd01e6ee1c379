// One translation table for the app: Korean by default, English on request, the choice kept in
// localStorage. Other parts of the app (the admin pages) add their own keys at import time with
// `registerMessages`. The chosen language also goes to the API (`Accept-Language`), so server
// messages arrive in it.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { setApiLanguage } from "./api/client";
import { messages, type MessageKey } from "./messages";

export type Lang = "ko" | "en";
export const LANGS: readonly Lang[] = ["ko", "en"];

type Dictionary = Readonly<Record<string, string>>;
/** A key of the app's table, or one registered by another module. */
export type TKey = MessageKey | (string & {});
export type TVars = Readonly<Record<string, string | number>>;
export type TFunction = (key: TKey, vars?: TVars) => string;

const tables: Record<Lang, Record<string, string>> = { ko: { ...messages.ko }, en: { ...messages.en } };

/** Adds keys (both languages) to the table; call at module load of the feature that owns them. */
export function registerMessages(extra: { ko: Dictionary; en: Dictionary }): void {
  Object.assign(tables.ko, extra.ko);
  Object.assign(tables.en, extra.en);
}

/** Replaces `{name}` placeholders; unknown placeholders stay as they are. */
export function interpolate(template: string, vars?: TVars): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    return value === undefined ? whole : String(value);
  });
}

/** The text of `key` in `lang` (falling back to Korean, then to the key itself). */
export function translate(lang: Lang, key: TKey, vars?: TVars): string {
  const template = tables[lang][key] ?? tables.ko[key] ?? key;
  return interpolate(template, vars);
}

const STORAGE_KEY = "ticketing.lang";

function initialLang(): Lang {
  try {
    const stored = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (stored === "ko" || stored === "en") return stored;
  } catch {
    // storage unavailable: the default
  }
  return "ko";
}

interface LanguageContextValue {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: TFunction;
}

const LanguageContext = createContext<LanguageContextValue | null>(null);

export function LanguageProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(() => {
    const first = initialLang();
    // Before the first request goes out.
    setApiLanguage(first);
    return first;
  });

  useEffect(() => {
    setApiLanguage(lang);
    document.documentElement.lang = lang;
  }, [lang]);

  const setLang = useCallback((next: Lang) => {
    setApiLanguage(next);
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, next);
    } catch {
      // the choice just won't survive a reload
    }
    setLangState(next);
    // Pages that read the choice outside this provider (the admin pages) follow it too.
    window.dispatchEvent(new Event("ticketing:lang"));
  }, []);

  const value = useMemo<LanguageContextValue>(
    () => ({ lang, setLang, t: (key, vars) => translate(lang, key, vars) }),
    [lang, setLang],
  );
  return <LanguageContext.Provider value={value}>{children}</LanguageContext.Provider>;
}

/** `{ lang, setLang, t }` of the surrounding `LanguageProvider`. */
export function useT(): LanguageContextValue {
  const value = useContext(LanguageContext);
  if (!value) throw new Error("useT outside LanguageProvider");
  return value;
}
