// What to show for a failed call: the server's (already localized) message, or a local one
// when the server could not be reached.
import { ApiError } from "./api/client";
import type { TFunction } from "./i18n";

export function errorMessage(error: unknown, t: TFunction): string {
  if (error instanceof ApiError) return error.body?.message ?? t("common.unknownError");
  if (error instanceof TypeError) return t("common.networkError");
  return t("common.unknownError");
}

/** The server's per-field messages (`fields` of a 400), by field name. */
export function fieldErrors(error: unknown): Readonly<Record<string, string>> {
  if (!(error instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const f of error.body?.fields ?? []) {
    // The first message of a field is the one shown.
    out[f.field] ??= f.message;
  }
  return out;
}

export function errorCode(error: unknown): string | undefined {
  return error instanceof ApiError ? error.code : undefined;
}
