//! QR codes of ticket secrets: SVG for the browser, PNG for email clients (which do not show
//! SVG). Error correction M, a 4-module quiet zone.

use std::io::Write;

use qrcode::{Color, EcLevel, QrCode, render::svg};

/// Modules of white border around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

fn code(text: &str) -> QrCode {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .expect("a ticket secret fits a QR code")
}

/// The code as an SVG document, at least `size` pixels wide.
pub fn svg(text: &str, size: u32) -> String {
    code(text)
        .render::<svg::Color>()
        .min_dimensions(size, size)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build()
}

/// The code as a greyscale PNG, `scale` pixels a module.
pub fn png(text: &str, scale: usize) -> Vec<u8> {
    let code = code(text);
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * scale;
    // Each scanline: filter byte 0 (none), then one byte per pixel (0 black, 255 white).
    let mut raw = Vec::with_capacity(side * (side + 1));
    for y in 0..side {
        raw.push(0);
        let my = (y / scale).checked_sub(QUIET_ZONE).filter(|&m| m < modules);
        for x in 0..side {
            let mx = (x / scale).checked_sub(QUIET_ZONE).filter(|&m| m < modules);
            let dark = matches!((mx, my), (Some(mx), Some(my)) if colors[my * modules + mx] == Color::Dark);
            raw.push(if dark { 0 } else { 255 });
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    zlib.write_all(&raw).expect("writing to memory");
    let idat = zlib.finish().expect("writing to memory");

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(side as u32).to_be_bytes());
    ihdr.extend_from_slice(&(side as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, no filter set, no interlace

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &idat[..]), (b"IEND", &[][..])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "AQAAAAAAAAPpAAAAAAAAACoAAAAAAAADCRERERERERERERERERERERHpGRFKjL6HrvJ5wmrBGorSI5QbXCT6fvUd3QpDeZSN4OyPpidDVj4xtbC6T3ZIKMC46maN0KMGf7fqNdEzq0YM";

    #[test]
    fn the_svg_is_a_document_of_dark_modules() {
        let s = svg(SECRET, 240);
        assert!(s.starts_with("<?xml") && s.contains("<svg") && s.ends_with("</svg>"), "{s}");
        assert!(s.contains("#000000"));
    }

    /// Decodes the PNG's pixels back (inflate, unfilter) and compares them with the code's
    /// modules: the image is the code, quiet zone included.
    #[test]
    fn the_png_holds_the_code_module_for_module() {
        let scale = 3;
        let bytes = png(SECRET, scale);
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let side = u32::from_be_bytes(bytes[16..20].try_into().unwrap()) as usize;
        let code = code(SECRET);
        assert_eq!(side, (code.width() + 8) * scale);
        let idat_len = u32::from_be_bytes(bytes[33..37].try_into().unwrap()) as usize;
        assert_eq!(&bytes[37..41], b"IDAT");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&bytes[41..41 + idat_len]),
            &mut raw,
        )
        .unwrap();
        assert_eq!(raw.len(), side * (side + 1));
        let colors = code.to_colors();
        for my in 0..code.width() {
            for mx in 0..code.width() {
                let (x, y) = ((mx + 4) * scale + 1, (my + 4) * scale + 1);
                let pixel = raw[y * (side + 1) + 1 + x];
                assert_eq!(pixel == 0, colors[my * code.width() + mx] == Color::Dark);
            }
        }
        assert_eq!(raw[1], 255, "the quiet zone is white");
        assert!(bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
    }
}
