// Where the admin pages live (the shell mounts them at /admin/*).
export const ADMIN_BASE = "/admin";

export const adminPaths = {
  concerts: ADMIN_BASE,
  newConcert: `${ADMIN_BASE}/concerts/new`,
  concert: (id: number) => `${ADMIN_BASE}/concerts/${id}`,
  seats: (id: number) => `${ADMIN_BASE}/concerts/${id}/seats`,
  sale: (id: number) => `${ADMIN_BASE}/concerts/${id}/sale`,
  reservations: (concertId?: number) =>
    concertId === undefined
      ? `${ADMIN_BASE}/reservations`
      : `${ADMIN_BASE}/reservations?concert=${concertId}`,
};

/** The shell's sign-in page; it returns to `state.from` afterwards. */
export const SIGN_IN_PATH = "/signin";
