// Camera scanning through the browser's `BarcodeDetector` (QR format), where it exists
// (Chromium on Android, ChromeOS and macOS; not desktop Linux or Firefox). Elsewhere the page
// says so and the typed entry is the way in. A code seen again within a few seconds is one scan.
import { useEffect, useRef, useState } from "react";
import { useT } from "../../lib/i18n";
import "./messages";

interface DetectedBarcode {
  rawValue: string;
}
interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<DetectedBarcode[]>;
}
type BarcodeDetectorConstructor = new (options: { formats: string[] }) => BarcodeDetectorLike;

/** The browser's detector class, if it has one. */
function detectorClass(): BarcodeDetectorConstructor | null {
  return typeof window !== "undefined" && "BarcodeDetector" in window
    ? ((window as unknown as { BarcodeDetector: BarcodeDetectorConstructor }).BarcodeDetector ?? null)
    : null;
}

export function hasBarcodeDetector(): boolean {
  return detectorClass() !== null;
}

const REPEAT_MS = 3_000;

export function Camera({ onCode }: { onCode: (code: string) => void }) {
  const { t } = useT();
  const [on, setOn] = useState(false);
  const [denied, setDenied] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const onCodeRef = useRef(onCode);
  onCodeRef.current = onCode;
  const Detector = detectorClass();

  useEffect(() => {
    if (!on || !Detector) return;
    let stream: MediaStream | null = null;
    let timer: ReturnType<typeof setInterval> | undefined;
    let stopped = false;
    const seen = new Map<string, number>();
    const detector = new Detector({ formats: ["qr_code"] });
    (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      } catch {
        setDenied(true);
        setOn(false);
        return;
      }
      if (stopped || !video.current) {
        stream.getTracks().forEach((track) => track.stop());
        return;
      }
      video.current.srcObject = stream;
      await video.current.play().catch(() => undefined);
      timer = setInterval(async () => {
        const el = video.current;
        if (!el || el.readyState < 2) return;
        const codes = await detector.detect(el).catch(() => []);
        const now = Date.now();
        for (const { rawValue } of codes) {
          if ((seen.get(rawValue) ?? 0) > now - REPEAT_MS) continue;
          seen.set(rawValue, now);
          onCodeRef.current(rawValue);
        }
      }, 250);
    })();
    return () => {
      stopped = true;
      clearInterval(timer);
      stream?.getTracks().forEach((track) => track.stop());
    };
  }, [on, Detector]);

  if (!Detector) return <p className="scan-note">{t("scan.noBarcodeDetector")}</p>;
  return (
    <div className="scan-camera">
      <button type="button" className="button" aria-pressed={on} onClick={() => setOn((v) => !v)}>
        {on ? t("scan.cameraStop") : t("scan.cameraStart")}
      </button>
      {denied && <p className="scan-note">{t("scan.cameraDenied")}</p>}
      {on && <video ref={video} className="scan-video" muted playsInline aria-label={t("scan.cameraVideo")} />}
    </div>
  );
}
