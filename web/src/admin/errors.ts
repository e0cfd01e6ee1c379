// What an API error says, for forms: the server's message and its failing fields.
import { ApiError } from "../lib/api/client";

/** The failing fields of a validation error, by field name (first message wins). */
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (error instanceof ApiError) {
    for (const { field, message } of error.body?.fields ?? []) out[field] ??= message;
  }
  return out;
}

/**
 * Business refusals of a concert's dates come without `fields`; they still belong to one
 * field, so the form shows them there.
 */
export const CODE_FIELD: Record<string, string> = {
  CLOSE_TIME_AFTER_OPEN_TIME: "closeTime",
  CONCERT_DATE_AFTER_CLOSE_TIME: "concertDate",
};

export function errorCode(error: unknown): string | undefined {
  return error instanceof ApiError ? error.code : undefined;
}
