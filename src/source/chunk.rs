//! What line readers hand out: [`Chunk`]s of complete lines, and the longest line they hold.
//!
//! Both readers, [`LineReader`](super::lines::LineReader) (a buffer filled with `read`) and
//! [`MappedLines`](super::mapped::MappedLines) (a memory map), hand out the same chunks under the
//! same limit; the two live here, below both, so that neither reader depends on the other.
//! ([`lines`](super::lines) re-exports them, where the scan imports them from.)

/// Lines longer than this are skipped (and reported), not buffered: no mail daemon writes them,
/// and an attacker must not be able to make the scanner hold gigabytes.
pub const MAX_LINE: usize = 16 << 20;

/// What the reader hands out next.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// One or more complete lines, each ending in `\n`, starting at `offset`.
    Lines {
        /// Offset of `data[0]` in the content.
        offset: u64,
        /// The lines.
        data: &'a [u8],
    },
    /// A line longer than [`MAX_LINE`] that was skipped, newline included.
    Overlong {
        /// Offset of the line's first byte.
        offset: u64,
        /// Its length including the newline.
        len: u64,
    },
}
