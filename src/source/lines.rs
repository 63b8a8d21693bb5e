//! Reading complete lines in large chunks.
//!
//! Only lines that end in `\n` are handed out: a line still being written is left for the next
//! run, and the offset after the last complete line is what the checkpoint records. Chunks are
//! large (whole buffers of lines) so that the scanner can search them in one pass.

use std::io::{self, Read};

pub use super::chunk::{Chunk, MAX_LINE};
use super::mapped::MappedLines;

/// Bytes read from the source per refill.
const READ_SIZE: usize = 1 << 20;
/// Where a file's complete lines come from: a reader (archives, decompressed), or the map of a
/// plain file ([`MappedLines`]).
pub enum Lines {
    /// Read into a buffer.
    Read(LineReader<Box<dyn Read + Send>>),
    /// Searched in place.
    Mapped(MappedLines),
}

impl Lines {
    /// The next chunk, or `None` at the end of the content; see [`LineReader::next_chunk`].
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk<'_>>> {
        match self {
            Lines::Read(r) => r.next_chunk(),
            Lines::Mapped(m) => m.next_chunk(),
        }
    }

    /// Bytes after the last complete line.
    pub fn partial_len(&self) -> usize {
        match self {
            Lines::Read(r) => r.partial_len(),
            Lines::Mapped(m) => m.partial_len(),
        }
    }

    /// Whether the chunks handed out so far were the file's content: a read chunk always was,
    /// a mapped one unless the file shrank under the map ([`MappedLines::intact`]).
    pub fn intact(&self) -> bool {
        match self {
            Lines::Read(_) => true,
            Lines::Mapped(m) => m.intact(),
        }
    }
}

/// The complete line that ends just before `offset` in a plain file (without its newline), if
/// it is at most 64 KiB long: what a scan resuming at `offset` reads after it may refer to it
/// (sysklogd's `last message repeated N times`).
pub fn line_before(file: &std::fs::File, offset: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    const WINDOW: u64 = 64 * 1024;
    let from = offset.saturating_sub(WINDOW);
    let mut buf = vec![0; usize::try_from(offset - from).ok()?];
    file.read_exact_at(&mut buf, from).ok()?;
    let body = buf.strip_suffix(b"\n")?;
    match memchr::memrchr(b'\n', body) {
        Some(nl) => Some(body[nl + 1..].to_vec()),
        None if from == 0 => Some(body.to_vec()),
        None => None,
    }
}

/// Reads complete lines from `R`, starting at content offset `offset`.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// Content offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> LineReader<R> {
    /// A reader whose first byte is at content offset `offset`.
    pub fn new(inner: R, offset: u64) -> LineReader<R> {
        LineReader { inner, buf: vec![0; 2 * READ_SIZE], start: 0, end: 0, offset, eof: false }
    }

    /// Offset just after the last byte handed out: where the next run resumes.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes after the last complete line (a line still being written).
    pub fn partial_len(&self) -> usize {
        self.end - self.start
    }

    /// The next chunk, or `None` at the end of the content (any partial last line stays unread).
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk<'_>>> {
        loop {
            if let Some(nl) = memchr::memrchr(b'\n', &self.buf[self.start..self.end]) {
                // Keep reading while the buffer has room, so chunks are large.
                if self.eof || self.end == self.buf.len() || self.fill_once()? == 0 {
                    let nl = memchr::memrchr(b'\n', &self.buf[self.start..self.end]).unwrap_or(nl);
                    let begin = self.start;
                    let stop = begin + nl + 1;
                    let offset = self.offset;
                    self.start = stop;
                    self.offset += (stop - begin) as u64;
                    return Ok(Some(Chunk::Lines { offset, data: &self.buf[begin..stop] }));
                }
                continue;
            }
            if self.eof {
                return Ok(None);
            }
            if self.end - self.start >= MAX_LINE {
                return self.skip_overlong().map(Some);
            }
            if self.fill_once()? == 0 && self.eof {
                return Ok(None);
            }
        }
    }

    /// Reads once into the free space (compacting or growing first). Returns bytes read.
    fn fill_once(&mut self) -> io::Result<usize> {
        if self.start > 0 && (self.end == self.buf.len() || self.start >= self.buf.len() / 2) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(MAX_LINE + READ_SIZE);
            self.buf.resize(grown, 0);
        }
        let room = (self.buf.len() - self.end).min(READ_SIZE);
        let n = loop {
            match self.inner.read(&mut self.buf[self.end..self.end + room]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        self.end += n;
        Ok(n)
    }

    /// Discards the buffered start of an overlong line and the rest of it up to its newline.
    fn skip_overlong(&mut self) -> io::Result<Chunk<'static>> {
        let offset = self.offset;
        let mut len = (self.end - self.start) as u64;
        self.start = 0;
        self.end = 0;
        loop {
            let n = self.fill_once()?;
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[..self.end]) {
                len += nl as u64 + 1;
                self.start = nl + 1;
                break;
            }
            if n == 0 {
                // The overlong line has no end yet: leave it (and the offset) for a later run.
                self.start = 0;
                self.end = 0;
                return Ok(Chunk::Overlong { offset, len: 0 });
            }
            len += self.end as u64;
            self.end = 0;
        }
        self.offset += len;
        if self.buf.len() > 2 * READ_SIZE {
            // Give back the memory the long line took.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(2 * READ_SIZE.max(self.end));
            self.buf.shrink_to_fit();
        }
        Ok(Chunk::Overlong { offset, len })
    }
}

#[cfg(test)]
mod tests;
