//! Every pass against the portable one and against a line-by-line statement of the contract, and
//! the choice of pass on made-up CPUs.

use super::*;

/// Each candidate line and the lines before it, then the lines in all, as every
/// implementation here finds them: they must agree.
fn scanned(data: &str) -> (Vec<(&str, u64)>, u64) {
    let prefilter = Prefilter::default();
    let mut portable = Vec::new();
    let lines = prefilter.scan_portable(data.as_bytes(), |r, n| portable.push((&data[r], n)));
    let iterated: Vec<&str> = prefilter.lines(data.as_bytes()).map(|r| &data[r]).collect();
    assert_eq!(portable.iter().map(|c| c.0).collect::<Vec<_>>(), iterated, "{data:?}");
    #[cfg(target_arch = "x86_64")]
    for pass in Fused::ALL.into_iter().filter(|p| p.runnable()) {
        let mut got = Vec::new();
        // SAFETY: the CPU has every feature the pass is compiled with (`runnable`).
        let got_lines = unsafe { prefilter.scan_with(pass, data.as_bytes(), |r, n| got.push((&data[r], n))) };
        assert_eq!((&got, got_lines), (&portable, lines), "{pass:?}: {data:?}");
    }
    (portable, lines)
}

/// A made-up CPU with the features `list` (comma-separated).
#[cfg(target_arch = "x86_64")]
fn cpu(list: &str) -> impl Fn(&str) -> bool + '_ {
    move |f| list.split(',').any(|g| g == f)
}

#[test]
#[cfg(target_arch = "x86_64")]
fn every_feature_a_pass_is_compiled_with_is_detected_at_run_time() {
    for pass in Fused::ALL {
        for f in pass.required().split(',').chain(pass.preferred().split(',')).filter(|f| !f.is_empty()) {
            assert!(known(f).is_some(), "{pass:?} is compiled with {f}, which is not detected");
        }
    }
    // The bit instructions the passes use (`lzcnt` runs as `bsr` where it is missing).
    for pass in [Fused::Avx2, Fused::Avx512] {
        for f in ["avx2", "popcnt", "lzcnt", "bmi1"] {
            assert!(pass.required().split(',').any(|g| g == f), "{pass:?} without {f}");
        }
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn the_chosen_pass_has_every_feature_it_needs_on_this_cpu() {
    let chosen = Prefilter::default().fused;
    assert_eq!(chosen, Fused::select(detected));
    assert!(chosen.runnable(), "{chosen:?} chosen without all of {}", chosen.required());
    for f in chosen.required().split(',').filter(|f| !f.is_empty()) {
        assert!(detected(f), "{chosen:?} needs {f}");
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_missing_feature_falls_back_to_a_narrower_pass() {
    let everything = "avx2,avx512f,avx512bw,avx512vbmi,popcnt,lzcnt,bmi1,bmi2";
    assert_eq!(Fused::select(cpu(everything)), Fused::Avx512);
    // No VBMI: AVX-512 is there but not wanted.
    assert_eq!(Fused::select(cpu("avx2,avx512f,avx512bw,popcnt,lzcnt,bmi1")), Fused::Avx2);
    assert_eq!(Fused::select(cpu("avx2,popcnt,lzcnt,bmi1")), Fused::Avx2);
    // A VM that hides LZCNT (or POPCNT, BMI1, AVX2): no vector pass at all.
    for hidden in ["lzcnt", "popcnt", "bmi1", "avx2"] {
        let without: Vec<&str> = everything.split(',').filter(|f| *f != hidden).collect();
        let without = without.join(",");
        assert_eq!(Fused::select(cpu(&without)), Fused::No, "without {hidden}");
    }
    // Without AVX-512BW: the AVX2 pass.
    assert_eq!(Fused::select(cpu("avx2,avx512f,avx512vbmi,popcnt,lzcnt,bmi1")), Fused::Avx2);
    assert_eq!(Fused::select(cpu("")), Fused::No);
    // Whatever is chosen, every feature it is compiled with was in the set.
    let mut rng = fastrand::Rng::with_seed(9);
    let names: Vec<&str> = everything.split(',').collect();
    for _ in 0..1_000 {
        let set: Vec<&str> = names.iter().copied().filter(|_| rng.bool()).collect();
        let set = set.join(",");
        let chosen = Fused::select(cpu(&set));
        assert!(chosen.required().split(',').filter(|f| !f.is_empty()).all(cpu(&set)), "{set}: {chosen:?}");
    }
}

#[test]
fn every_pass_this_cpu_runs_agrees_with_the_portable_one() {
    // `scanned` runs them all and compares; here on a log-like text of many blocks.
    let line = "Dec  7 05:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x\n\
                Dec  7 05:00:01 mx postfix/smtpd[1]: connect from unknown[192.0.2.2]\n\
                Dec  7 05:00:02 mx dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.3\n";
    let data = line.repeat(200);
    let (found, lines) = scanned(&data);
    assert_eq!((found.len(), lines), (400, 600));
    #[cfg(target_arch = "x86_64")]
    eprintln!("passes run here: {:?}", Fused::ALL.into_iter().filter(|p| p.runnable()).collect::<Vec<_>>());
}

fn candidates(data: &str) -> Vec<&str> {
    scanned(data).0.into_iter().map(|c| c.0).collect()
}

#[test]
fn finds_each_needle_once_per_line_in_order() {
    let data = "connect from x[192.0.2.1]\n\
                a Login: user=<u> auth sasl_method=PLAIN\n\
                deliver\n\
                client=h[192.0.2.2], sasl_method=PLAIN\n\
                auth: passwd-file(u,192.0.2.3): unknown user\n\
                last Login: user=<v>";
    assert_eq!(
        candidates(data),
        [
            "a Login: user=<u> auth sasl_method=PLAIN",
            "client=h[192.0.2.2], sasl_method=PLAIN",
            "auth: passwd-file(u,192.0.2.3): unknown user",
            "last Login: user=<v>",
        ]
    );
}

#[test]
fn postfix_session_summaries_are_skipped_but_not_what_follows_them() {
    let data = "disconnect from x[192.0.2.1] ehlo=1 auth=0/1 quit=1 commands=2\n\
                disconnect auth=1/1 then SASL LOGIN authentication failed\n\
                auth=";
    assert_eq!(candidates(data), ["disconnect auth=1/1 then SASL LOGIN authentication failed"]);
}

#[test]
fn dovecot_logins_without_an_attempt_are_skipped_but_not_attempts() {
    let data = "dovecot: imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.1\n\
                dovecot: imap-login: Login aborted: Connection closed (no auth attempts in 1 secs) (no_auth_attempts): user=<>, rip=192.0.2.2\n\
                dovecot: pop3-login: Disconnected (no auth attempts): user=<(auth failed, 1 attempts)>, rip=192.0.2.3\n\
                dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<(no auth>, rip=192.0.2.4\n\
                (no auth\n\
                no auth";
    assert_eq!(
        candidates(data),
        [
            "dovecot: pop3-login: Disconnected (no auth attempts): user=<(auth failed, 1 attempts)>, rip=192.0.2.3",
            "dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<(no auth>, rip=192.0.2.4",
            "no auth",
        ]
    );
}

#[test]
fn nothing_in_nothing() {
    assert!(candidates("").is_empty());
    assert!(candidates("\n\n").is_empty());
    assert!(candidates("aut\nh\n").is_empty());
    assert_eq!(candidates("\nauth\n"), ["auth"]);
}

/// The contract, one line at a time.
fn is_candidate(line: &str) -> bool {
    line.contains("sasl_method=")
        || line.contains("Login: user=<")
        || line.match_indices("auth").any(|(k, _)| {
            line.as_bytes().get(k + 4) != Some(&b'=') && !line[..k].ends_with("(no ") && !line[..k].ends_with("(no_")
        })
}

#[test]
fn agrees_with_a_line_by_line_search() {
    let mut rng = fastrand::Rng::with_seed(3);
    // Fillers of 13 and 31 bytes move the needles across the fused pass's 32- and 64-byte
    // blocks and into its last, padded block.
    let words = [
        "auth",
        "auth=",
        "(no ",
        "(no_",
        "no ",
        "sasl_method=",
        "Login: user=<",
        "x",
        "\n",
        " ",
        "au",
        "th",
        "=",
        "Login",
        "_m",
        "sasl",
        "L",
        "a",
        "ThirteenBytes",
        "a filler of thirty-one bytes...",
    ];
    for round in 0..20_000 {
        let n = if round % 4 == 0 { rng.usize(0..200) } else { rng.usize(0..40) };
        let data: String = (0..n).map(|_| words[rng.usize(0..words.len())]).collect();
        let want: Vec<(&str, u64)> =
            data.split('\n').enumerate().filter(|(_, l)| is_candidate(l)).map(|(k, l)| (l, k as u64)).collect();
        assert_eq!(scanned(&data), (want, data.matches('\n').count() as u64), "{data:?}");
    }
}

#[test]
fn needles_at_every_place_of_a_block() {
    for needle in NEEDLES {
        for before in 0..70 {
            for after in [0, 1, 5, 40] {
                let data =
                    format!("{}{needle}{}\nnext\n", "\n".repeat(before % 3) + &"y".repeat(before), "z".repeat(after));
                let (found, lines) = scanned(&data);
                let line = format!("{}{needle}{}", "y".repeat(before), "z".repeat(after));
                assert_eq!(found, [(line.as_str(), (before % 3) as u64)], "{data:?}");
                assert_eq!(lines, (before % 3) as u64 + 2);
            }
        }
    }
}
