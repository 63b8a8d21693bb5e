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
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per call, to exercise refills.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn collect(data: &[u8], step: usize) -> (Vec<u8>, Vec<(u64, u64)>, u64) {
        let mut r = LineReader::new(Trickle { data, step }, 100);
        let mut lines = Vec::new();
        let mut skipped = Vec::new();
        let mut expect = 100;
        while let Some(chunk) = r.next_chunk().unwrap() {
            match chunk {
                Chunk::Lines { offset, data } => {
                    assert_eq!(offset, expect);
                    assert_eq!(data.last(), Some(&b'\n'));
                    expect += data.len() as u64;
                    lines.extend_from_slice(data);
                }
                Chunk::Overlong { offset, len } => {
                    assert_eq!(offset, expect);
                    expect += len;
                    skipped.push((offset, len));
                }
            }
        }
        assert_eq!(r.offset(), expect);
        (lines, skipped, r.offset())
    }

    #[test]
    fn complete_lines_only_and_the_partial_tail_waits() {
        let (lines, skipped, end) = collect(b"a\nbb\nccc", 1);
        assert_eq!(lines, b"a\nbb\n");
        assert!(skipped.is_empty());
        assert_eq!(end, 105);
    }

    #[test]
    fn large_inputs_come_through_intact_whatever_the_read_sizes() {
        let mut data = Vec::new();
        for i in 0..200_000 {
            data.extend_from_slice(format!("line {i} with some text\n").as_bytes());
        }
        for step in [7, 4096, 1 << 20, 3 << 20] {
            let (lines, _, end) = collect(&data, step);
            assert_eq!(lines, data);
            assert_eq!(end, 100 + data.len() as u64);
        }
    }

    #[test]
    fn a_one_megabyte_line_is_read_whole() {
        let mut data = vec![b'x'; 1 << 20];
        data.push(b'\n');
        data.extend_from_slice(b"next\n");
        let (lines, skipped, _) = collect(&data, 65536);
        assert_eq!(lines, data);
        assert!(skipped.is_empty());
    }

    #[test]
    fn an_overlong_line_is_skipped_and_reported_and_reading_goes_on() {
        let mut data = b"before\n".to_vec();
        data.extend(std::iter::repeat_n(b'y', MAX_LINE + 5));
        data.extend_from_slice(b"\nafter\n");
        let (lines, skipped, end) = collect(&data, 1 << 20);
        assert_eq!(lines, b"before\nafter\n");
        assert_eq!(skipped, vec![(107, MAX_LINE as u64 + 6)]);
        assert_eq!(end, 100 + data.len() as u64);
    }
}
