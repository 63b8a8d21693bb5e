//! Reading complete lines of a plain file straight from a memory map.
//!
//! Reading a plain log with `read` copies every byte from the page cache into the scanner's
//! buffer, a cost of its own on a first scan of large logs. Mapping the file lets the prefilter
//! search the page cache itself. The chunks handed out are those of [`LineReader`](super::lines::LineReader):
//! whole lines, at most `WINDOW` bytes of them at a time, lines longer than
//! [`MAX_LINE`] skipped, a partial last line left for the next run.
//!
//! A mapped file that shrinks while it is read (`copytruncate` by logrotate) would kill the
//! process with `SIGBUS` when a page past the new end is touched: [`guard`] turns such a page
//! into zeros and remembers it, and the chunk thread asks [`MappedLines::intact`] after each
//! chunk whether what it read was the file's content. The guard is the program's to install
//! ([`guard::install`]); until it has been, [`MappedLines::new`] fails and the caller reads the
//! file instead.

use std::fs::File;
use std::io;

use memmap2::{Advice, Mmap, MmapOptions};

use super::chunk::{Chunk, MAX_LINE};
use super::guard::{self, Guarded};

/// The error a read ends with when the file shrank under its map ([`MappedLines::intact`]).
#[derive(Debug, thiserror::Error)]
#[error("the file shrank while it was read")]
pub struct Shrank;

impl Shrank {
    /// Whether `e` is this error.
    pub fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Shrank>())
    }
}

/// Bytes of lines handed out per chunk, like [`LineReader`](super::lines::LineReader)'s buffer.
const WINDOW: usize = 2 << 20;
/// Bytes mapped at a time (more for a longer line): what the map adds to the resident memory.
const REGION: usize = 8 << 20;

/// Complete lines of a memory-mapped file, from a content offset on.
///
/// The file is mapped one region at a time: a map of the whole file would count all of it in the
/// process's resident memory by the end of a scan, and a map per window cost more than the copy
/// it saved (each unmapping interrupts the other cores to flush their TLBs).
pub struct MappedLines {
    file: File,
    /// The file's length when it was opened: lines appended later are for the next run.
    len: u64,
    /// Offset of the first byte not handed out.
    pos: u64,
    /// Bytes after the last complete line, once the end is reached.
    partial: usize,
    /// This reader's slot in the SIGBUS guard; declared before `region`, so it is freed before
    /// the map is unmapped.
    guard: Guarded,
    /// The region mapped now: its content offset and its map.
    region: Option<(u64, Mmap)>,
}

impl MappedLines {
    /// Maps `file` (a regular file, not compressed) from content offset `offset` on, region by
    /// region. The content is what the file holds now: lines appended later are for the next
    /// run. Fails when the file cannot be guarded (the program did not call [`guard::install`], or
    /// too many files are mapped at once): it is then read instead.
    pub fn new(file: File, offset: u64) -> io::Result<MappedLines> {
        let len = file.metadata()?.len();
        let guard = guard::register()?;
        Ok(MappedLines { file, len, pos: offset.min(len), partial: 0, guard, region: None })
    }

    /// Bytes after the last complete line (a line still being written), once the end is reached.
    pub fn partial_len(&self) -> usize {
        self.partial
    }

    /// Whether every byte handed out so far was the file's content: `false` once the file shrank
    /// under a page that was then read (it read as zeros). Ask after using each chunk.
    pub fn intact(&self) -> bool {
        !self.guard.faulted()
    }

    /// Up to `want` bytes from `self.pos` on (fewer at the end of the content), mapping a new
    /// region when the current one does not hold them.
    fn view(&mut self, want: usize) -> io::Result<&[u8]> {
        let left = usize::try_from(self.len - self.pos).unwrap_or(usize::MAX);
        let want = want.min(left);
        let held = self
            .region
            .as_ref()
            .is_some_and(|(start, map)| self.pos >= *start && self.pos + want as u64 <= start + map.len() as u64);
        if !held {
            self.guard.unwatch();
            self.region = None;
            let len = REGION.max(want).min(left);
            // SAFETY: the map is only read, and a shrinking file (the one way its content can
            // vanish under the map) is caught by the guard, which watches it before any byte is
            // read.
            let map = unsafe { MmapOptions::new().offset(self.pos).len(len).map(&self.file) }?;
            self.guard.watch(map.as_ptr(), map.len());
            // Read once, front to back: the kernel may read ahead further.
            let _ = map.advise(Advice::Sequential);
            self.region = Some((self.pos, map));
        }
        Ok(self.bytes(self.pos, want))
    }

    /// `want` bytes from content offset `at` on, of the current region.
    fn bytes(&self, at: u64, want: usize) -> &[u8] {
        let Some((start, map)) = &self.region else { return &[] };
        let Some(from) = at.checked_sub(*start).and_then(|f| usize::try_from(f).ok()) else { return &[] };
        map.get(from..from + want).unwrap_or_default()
    }

    /// The next chunk, or `None` at the end of the content (any partial last line stays unread).
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk<'_>>> {
        if self.pos >= self.len {
            return Ok(None);
        }
        let offset = self.pos;
        if let Some(nl) = memchr::memrchr(b'\n', self.view(WINDOW)?) {
            self.pos += nl as u64 + 1;
            return Ok(Some(Chunk::Lines { offset, data: self.bytes(offset, nl + 1) }));
        }
        // A line longer than a window: whole if it ends within MAX_LINE, else skipped.
        match memchr::memchr(b'\n', self.view(MAX_LINE + 1)?) {
            Some(nl) if nl < MAX_LINE => {
                self.pos += nl as u64 + 1;
                Ok(Some(Chunk::Lines { offset, data: self.bytes(offset, nl + 1) }))
            }
            _ => {
                let past = self.len - offset;
                let rest = usize::try_from(past).unwrap_or(usize::MAX);
                if rest < MAX_LINE {
                    self.partial = rest;
                    self.pos = self.len;
                    return Ok(None);
                }
                // The line is overlong: its end is searched window by window.
                loop {
                    self.pos = (self.pos + WINDOW as u64).min(self.len);
                    if self.pos >= self.len {
                        // No end yet: leave it (and the offset) for a later run.
                        return Ok(Some(Chunk::Overlong { offset, len: 0 }));
                    }
                    if let Some(nl) = memchr::memchr(b'\n', self.view(WINDOW)?) {
                        self.pos += nl as u64 + 1;
                        return Ok(Some(Chunk::Overlong { offset, len: self.pos - offset }));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
