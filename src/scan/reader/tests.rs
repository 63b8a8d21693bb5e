use super::*;

fn read_all(content: &'static [u8], start: Position) -> Vec<Piece> {
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
    let pieces = read_all(log, start);
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
