//! Image input: decode PNG, BMP or TIFF bytes into an 8-bit grey image at 500 ppi.

use crate::Error;

/// The resolution every later stage works at (pixels per inch).
pub const WORKING_PPI: u16 = 500;
/// Smallest side accepted (a fingerprint smaller than this has no usable ridges).
pub const MIN_SIDE: u32 = 64;
/// Largest side accepted (guards memory against hostile headers).
pub const MAX_SIDE: u32 = 4000;

/// An 8-bit grey image, row-major, `pixels.len() == width * height`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrayImage {
    pub width: u32,
    pub height: u32,
    pub ppi: u16,
    pub pixels: Vec<u8>,
}

impl GrayImage {
    /// Builds an image, checking the buffer length and the size limits.
    pub fn new(width: u32, height: u32, ppi: u16, pixels: Vec<u8>) -> Result<Self, Error> {
        if width < MIN_SIDE || height < MIN_SIDE || width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::BadSize { width, height });
        }
        if pixels.len() != (width * height) as usize {
            return Err(Error::Image(format!(
                "pixel buffer has {} bytes, expected {}x{}",
                pixels.len(),
                width,
                height
            )));
        }
        if ppi == 0 {
            return Err(Error::Image("resolution of 0 ppi".into()));
        }
        Ok(Self { width, height, ppi, pixels })
    }

    /// Pixel at (x, y); caller keeps x < width, y < height.
    pub fn get(&self, x: u32, y: u32) -> u8 {
        self.pixels[(y * self.width + x) as usize]
    }

    /// Rescales (bilinear) to [`WORKING_PPI`]; a no-op at 500 ppi.
    pub fn to_working_resolution(&self) -> Result<GrayImage, Error> {
        if self.ppi == WORKING_PPI {
            return Ok(self.clone());
        }
        let s = WORKING_PPI as f64 / self.ppi as f64;
        let w = ((self.width as f64 * s).round() as u32).max(1);
        let h = ((self.height as f64 * s).round() as u32).max(1);
        if w < MIN_SIDE || h < MIN_SIDE || w > MAX_SIDE || h > MAX_SIDE {
            return Err(Error::BadSize { width: w, height: h });
        }
        let mut out = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            let sy = ((y as f64 + 0.5) / s - 0.5).clamp(0.0, (self.height - 1) as f64);
            let y0 = sy.floor() as u32;
            let y1 = (y0 + 1).min(self.height - 1);
            let fy = sy - y0 as f64;
            for x in 0..w {
                let sx = ((x as f64 + 0.5) / s - 0.5).clamp(0.0, (self.width - 1) as f64);
                let x0 = sx.floor() as u32;
                let x1 = (x0 + 1).min(self.width - 1);
                let fx = sx - x0 as f64;
                let top = self.get(x0, y0) as f64 * (1.0 - fx) + self.get(x1, y0) as f64 * fx;
                let bot = self.get(x0, y1) as f64 * (1.0 - fx) + self.get(x1, y1) as f64 * fx;
                out.push((top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8);
            }
        }
        GrayImage::new(w, h, WORKING_PPI, out)
    }
}

/// Decodes PNG, BMP, TIFF or WSQ bytes (format sniffed from the magic number) to 8-bit grey.
/// `ppi` is the resolution to assume; PNG/BMP/TIFF resolution fields are not read, so
/// callers pass 500 unless they know better; WSQ's NISTCOM `PPI` is used when present.
pub fn decode(bytes: &[u8], ppi: u16) -> Result<GrayImage, Error> {
    if bytes.is_empty() {
        return Err(Error::Image("empty file".into()));
    }
    if bytes.starts_with(&[0xFF, 0xA0]) {
        // WSQ: the resolution comes from its NISTCOM comment when present
        let w = sallyport_biometrics_formats::wsq::decode(bytes).map_err(|e| Error::Image(e.to_string()))?;
        return GrayImage::new(w.width, w.height, w.ppi.filter(|&p| p > 0).unwrap_or(ppi), w.pixels);
    }
    let format = image::guess_format(bytes).map_err(|_| {
        Error::Image(format!(
            "unrecognised image format (first bytes {:02x?}); expected PNG, BMP, TIFF or WSQ",
            &bytes[..bytes.len().min(4)]
        ))
    })?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader.set_format(format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| Error::Image(format!("cannot decode {format:?} image: {e}")))?;
    let grey = img.into_luma8();
    let (w, h) = grey.dimensions();
    GrayImage::new(w, h, ppi, grey.into_raw())
}

/// Reads and decodes an image file (see [`decode`]).
pub fn load(path: &std::path::Path, ppi: u16) -> Result<GrayImage, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Image(format!("cannot read {}: {e}", path.display())))?;
    decode(&bytes, ppi).map_err(|e| match e {
        Error::Image(m) => Error::Image(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Encodes an image as 8-bit grey PNG (any size: no limits are checked, so WSQ images of
/// any size the decoder accepts can be written).
pub fn encode_png(img: &GrayImage) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let enc = image::codecs::png::PngEncoder::new(&mut out);
    image::ImageEncoder::write_image(enc, &img.pixels, img.width, img.height, image::ExtendedColorType::L8)
        .map_err(|e| Error::Image(format!("cannot encode PNG: {e}")))?;
    Ok(out)
}
