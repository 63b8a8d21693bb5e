//! Complete lines, overlong lines and refills of every size.

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
