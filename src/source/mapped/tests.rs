//! Mapped lines across regions, overlong lines, and a file that shrinks under its map.

use std::io::Write;

use super::*;

fn chunks(lines: &mut MappedLines) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(chunk) = lines.next_chunk().unwrap() {
        match chunk {
            Chunk::Lines { offset, data } => out.push((offset, data.to_vec())),
            Chunk::Overlong { offset, len } => out.push((offset, format!("overlong {len}").into_bytes())),
        }
    }
    out
}

/// A file holding `content`; the SIGBUS guard is installed first, as the binary does, so
/// that it can be mapped.
fn file(content: &[u8]) -> tempfile::NamedTempFile {
    guard::install().unwrap();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    f
}

#[test]
fn whole_lines_from_an_offset_and_the_partial_tail_waits() {
    let f = file(b"one\ntwo\nthree");
    let mut lines = MappedLines::new(f.reopen().unwrap(), 4).unwrap();
    assert_eq!(chunks(&mut lines), [(4, b"two\n".to_vec())]);
    assert_eq!(lines.partial_len(), 5);
    assert!(lines.intact());
}

#[test]
fn chunks_hold_whole_lines_of_a_large_file_and_a_long_line_whole_across_regions() {
    // Past two regions, with a long line across the end of the first.
    let mut content = Vec::new();
    let mut i = 0;
    while content.len() < REGION - WINDOW / 2 {
        content.extend_from_slice(format!("line {i} with some text\n").as_bytes());
        i += 1;
    }
    content.extend(std::iter::repeat_n(b'x', 3 * WINDOW));
    content.push(b'\n');
    while content.len() < 2 * REGION + WINDOW {
        content.extend_from_slice(format!("line {i} with some text\n").as_bytes());
        i += 1;
    }
    let f = file(&content);
    let got = chunks(&mut MappedLines::new(f.reopen().unwrap(), 0).unwrap());
    assert!(got.len() > 3);
    assert!(got.iter().all(|(_, data)| data.ends_with(b"\n")));
    assert_eq!(got.iter().flat_map(|(_, data)| data.clone()).collect::<Vec<_>>(), content);
}

#[test]
fn an_overlong_line_is_skipped() {
    let mut content = b"before\n".to_vec();
    content.extend(std::iter::repeat_n(b'y', MAX_LINE + 5));
    content.extend_from_slice(b"\nafter\n");
    let f = file(&content);
    let got = chunks(&mut MappedLines::new(f.reopen().unwrap(), 0).unwrap());
    let overlong = format!("overlong {}", MAX_LINE + 6).into_bytes();
    let after = (7 + MAX_LINE as u64 + 6, b"after\n".to_vec());
    assert_eq!(got, [(0, b"before\n".to_vec()), (7, overlong), after]);
}

/// `copytruncate` while a file is read: the pages past the new end read as zeros instead of
/// killing the process, and the reader knows.
#[test]
fn a_file_that_shrinks_under_its_map_reads_zeros_and_is_noticed() {
    let content: Vec<u8> = (0..WINDOW + 100_000).map(|i| if i % 100 == 99 { b'\n' } else { b'a' }).collect();
    let f = file(&content);
    let mut lines = MappedLines::new(f.reopen().unwrap(), 0).unwrap();
    f.as_file().set_len(10_000).unwrap();
    // The search for the window's last line end read the zeros past the new end.
    let Some(Chunk::Lines { data, .. }) = lines.next_chunk().unwrap() else { panic!("no chunk") };
    assert_eq!(data, &content[..10_000], "the content that is left");
    assert!(!lines.intact());
    assert!(lines.next_chunk().unwrap().is_none());
    assert_eq!(lines.partial_len(), content.len() - 10_000, "zeros, no line end");
}
