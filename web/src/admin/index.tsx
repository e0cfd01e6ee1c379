// Placeholder until the organiser pages land (issue 14).
export function AdminRoutes() {
  return <p>관리 페이지 준비 중 / Admin pages are on their way.</p>;
}
