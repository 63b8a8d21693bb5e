use super::*;

fn read_all(content: impl std::io::Read + Send + 'static, start: Position) -> Vec<Piece> {
    let reader = FileReader::start(Setup {
        path: "mail.log".into(),
        lines: Lines::Read(crate::source::lines::LineReader::new(Box::new(content), start.offset)),
        start,
        times: TimeResolver::new(jiff::tz::TimeZone::UTC, start.year),
        server_name: "mx0".into(),
        enricher: Arc::new(Enricher::disabled()),
        previous: None,
    })
    .unwrap();
    std::iter::from_fn(|| reader.next()).collect()
}

#[test]
fn pieces_carry_events_with_their_lines_and_the_position_after_them() {
    let log = b"Mar  1 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n\
Mar  1 10:00:01 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n\
postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x\n\
Feb 30 10:00:03 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.2]: SASL LOGIN authentication failed: x\n\
Mar  1 10:00:04 auth: Info: ldap(dog,198.51.100.81,): invalid credentials\n\
partial";
    let start = Position { offset: 1000, lines: 10, year: YearState { year: 2026, month: 3 } };
    let pieces = read_all(&log[..], start);
    let [
        Piece::Chunk { bytes, lines, end, events, texts, problems, .. },
        Piece::End(Ended { failed, partial_len, bad_times, untimed, .. }),
    ] = &pieces[..]
    else {
        panic!("{pieces:?}")
    };
    assert_eq!((*bytes, *lines), (log.len() as u64 - 7, 5));
    assert_eq!((end.offset, end.lines), (1000 + log.len() as u64 - 7, 15));
    let got: Vec<_> = events.iter().map(|e| (e.offset - 1000, e.lines_before)).collect();
    let last = log.len() - 7 - 74;
    assert_eq!(got, [(70, 11), (last as u64, 14)]);
    assert_eq!(&log[last..last + 16], b"Mar  1 10:00:04 ");
    let server = |e: &ReadEvent| texts[e.event.server as usize].to_string();
    assert_eq!((server(&events[0]), server(&events[1])), ("mx1".into(), "mx0".into()), "no host: the server name");
    let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [Some(13), Some(14)], "no timestamp, then an impossible date");
    assert!(failed.is_none());
    assert_eq!((*partial_len, *bad_times, *untimed), (7, 1, 1));
}

#[test]
fn a_chunk_of_many_candidates_is_cut_into_pieces_that_lose_no_line() {
    // Nearly every line a candidate, a noise line in ten, and a repeat line where the first
    // cut would fall: it must stay with its candidate.
    let mut log = Vec::new();
    let mut starts = Vec::new();
    let mut candidates = 0;
    for i in 0..12_000 {
        starts.push(log.len());
        if i % 10 == 9 {
            log.extend_from_slice(b"Mar  1 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n");
            continue;
        }
        let line = format!(
            "Mar  1 10:00:00 mx1 dovecot: auth: passwd-file(u{i},10.0.{}.{},<S{i:x}>): Password mismatch\n",
            i >> 8,
            i & 255
        );
        log.extend_from_slice(line.as_bytes());
        candidates += 1;
        if candidates == BLOCK_CANDIDATES {
            starts.push(log.len());
            log.extend_from_slice(b"Mar  1 10:00:00 mx1 last message repeated 2 times\n");
        }
    }
    let start = Position { offset: 500, lines: 7, year: YearState { year: 2026, month: 3 } };
    let pieces = read_all(std::io::Cursor::new(log.clone()), start);
    let (mut offset, mut lines, mut events, mut counts) = (start.offset, start.lines, Vec::new(), Vec::new());
    for piece in &pieces {
        let Piece::Chunk { bytes, lines: n, end, events: e, .. } = piece else { continue };
        (offset, lines) = (offset + bytes, lines + n);
        assert_eq!((end.offset, end.lines), (offset, lines), "each piece ends where the next starts");
        let at = (end.offset - start.offset) as usize;
        assert!(at == log.len() || log[at - 1] == b'\n', "a piece ends at a line's end");
        events.extend(e.iter().map(|e| (e.offset, e.lines_before, e.event.count)));
        counts.push(e.len());
    }
    assert_eq!((offset, lines), (start.offset + log.len() as u64, start.lines + starts.len() as u64));
    assert!(counts.len() >= 3 && counts.iter().all(|&n| n <= BLOCK_CANDIDATES + 1), "{counts:?}");
    assert_eq!(counts[0], BLOCK_CANDIDATES + 1, "the repeat line stays with its candidate");
    let want: Vec<_> = (0..starts.len())
        .filter(|&i| !log[starts[i]..].starts_with(b"Mar  1 10:00:00 mx1 postfix"))
        .map(|i| (start.offset + starts[i] as u64, start.lines + i as u64))
        .collect();
    let got: Vec<_> = events.iter().map(|&(offset, line, _)| (offset, line)).collect();
    assert_eq!(got, want);
    assert_eq!(events.iter().map(|e| u64::from(e.2)).sum::<u64>(), candidates as u64 + 2);
}

#[test]
fn repeat_lines_after_a_candidate_are_taken_up_to_the_chunk_end() {
    let data = b"Nov 24 10:00:06 mx last message repeated 3 times\nNov 24 10:00:07 mx last message repeated 2 time\n";
    let mut taken = Vec::new();
    let mut take = |line: Range<usize>, lines_before: u64| taken.push((line, lines_before));
    // Both lines repeat the candidate before them, and the chunk ends there: the next chunk's
    // first line is looked at too.
    assert_eq!(take_repeats(data, 0, 5, &mut take), (data.len(), true));
    assert_eq!(taken, [(0..48, 5), (49..data.len() - 1, 6)]);
    let data = b"Nov 24 10:00:06 mx last message repeated 3 times\nNov 24 10:00:07 mx postfix/smtpd[1]: connect\n";
    assert_eq!(take_repeats(data, 0, 0, &mut |_, _| {}), (49, false));
    assert_eq!(take_repeats(data, 49, 0, &mut |_, _| {}), (49, false));
}
