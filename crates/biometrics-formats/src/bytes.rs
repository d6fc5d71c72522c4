//! Bounds-checked big-endian reader that remembers its absolute offset.

/// Error raised when a read runs past the end of the available bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eof {
    /// Absolute offset where the read started.
    pub offset: usize,
    /// Number of bytes the read needed.
    pub needed: usize,
    /// Number of bytes that were left.
    pub available: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// Absolute offset of `data[0]` within the whole input (for messages).
    base: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0, base: 0 }
    }
    pub fn with_base(data: &'a [u8], base: usize) -> Self {
        Cursor { data, pos: 0, base }
    }
    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Eof> {
        if n > self.remaining() {
            return Err(Eof { offset: self.offset(), needed: n, available: self.remaining() });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, Eof> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Eof> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, Eof> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }
}
