// The admin pages (another module), mounted at `/admin/*` and loaded on demand.
export { AdminRoutes } from "../admin";
