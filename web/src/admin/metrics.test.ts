import { describe, expect, it } from "vitest";
import { isMetricsText, metricValue, queueGauges } from "./metrics";

const TEXT = `# HELP ticketing_queue_waiting Fans in a concert's line
# TYPE ticketing_queue_waiting gauge
ticketing_queue_waiting{concert="2"} 1532
ticketing_queue_waiting{concert="12"} 7
ticketing_queue_active{concert="2"} 1000
ticketing_queue_admissions_total{concert="2"} 4100
http_server_requests_total{route="/api/x",method="GET",status="200"} 3
`;

describe("queue gauges from the metrics text", () => {
  it("reads a concert's waiting and admitted fans", () => {
    expect(queueGauges(TEXT, 2)).toEqual({ waiting: 1532, active: 1000 });
  });

  it("matches the concert label exactly", () => {
    expect(queueGauges(TEXT, 12)).toEqual({ waiting: 7, active: null });
    expect(queueGauges(TEXT, 1)).toEqual({ waiting: null, active: null });
  });

  it("reads several labels and ignores comments", () => {
    expect(metricValue(TEXT, "http_server_requests_total", { method: "GET", status: "200" })).toBe(3);
    expect(metricValue(TEXT, "ticketing_queue_waiting", { concert: "3" })).toBeNull();
  });
});

describe("metrics text", () => {
  it("is told apart from an HTML page", () => {
    expect(isMetricsText(TEXT)).toBe(true);
    expect(isMetricsText("<!doctype html><html># HELP x</html>")).toBe(false);
    expect(isMetricsText("")).toBe(false);
  });
});
