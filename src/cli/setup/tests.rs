use super::accounts::{Account, Accounts};
use super::*;

#[test]
fn arguments_are_checked() {
    assert!(valid_time("07:00") && valid_time("23:59") && !valid_time("24:00") && !valid_time("7:00"));
    for (span, secs) in [("1h", 3600), ("15min", 900), ("2h30min", 9000), ("30sec", 30), ("1day", 86_400)] {
        let parsed = parse_scan_interval(span).map(|i| (i.as_systemd().to_string(), i.span().as_secs()));
        assert_eq!(parsed.ok(), Some((span.to_string(), secs)), "{span}");
    }
    for (span, secs) in [("90m", 5400), ("1d12h", 129_600), ("2w", 1_209_600), ("2hr", 7200)] {
        assert_eq!(parse_scan_interval(span).ok().map(|i| i.span().as_secs()), Some(secs), "{span}");
    }
    for bad in ["", "h", "1h;rm", "1 h", "1h\n", "0h", "5x", "15", "1H"] {
        assert!(parse_scan_interval(bad).is_err(), "{bad:?}");
    }
    assert!(valid_user("maillogsentinel") && !valid_user("a b") && !valid_user("-x") && !valid_user("a\nb"));
    assert!(parse_bin("/usr/local/bin/maillogsentinel").is_ok());
    for bad in ["maillogsentinel", "target/release/maillogsentinel", "./m", "/opt/my bin/m", "/opt/m%i", "/opt/$m"] {
        assert!(parse_bin(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn only_paths_under_home_directories_are_warned_about() {
    for hidden in ["/home/ann/.cargo/bin/maillogsentinel", "/root/m", "/run/user/1000/m"] {
        assert!(protect_home_warning("the binary", Path::new(hidden), "").is_some(), "{hidden}");
    }
    for fine in ["/usr/local/bin/maillogsentinel", "/homework/m", "/var/lib/maillogsentinel"] {
        assert!(protect_home_warning("the binary", Path::new(fine), "").is_none(), "{fine}");
    }
}

#[test]
fn this_machines_database_is_asked_through_nss_and_agrees_with_its_files() {
    // root and nobody are in /etc/passwd on every system the tests run on; their primary
    // group comes from the group database (nobody's is `nogroup` on Debian, not `nobody`).
    for name in ["root", "nobody"] {
        let nss = Accounts::Host.user(name);
        let files = Accounts::Files(Path::new("/")).user(name);
        assert!(nss.is_some(), "{name}");
        assert_eq!(nss, files, "{name}");
    }
    assert_eq!(Accounts::Host.user("root"), Some(Account { uid: 0, gid: 0, group: Some("root".into()) }));
    assert_eq!(Accounts::Host.user("no-such-user-mls"), None);
    assert!(Accounts::Host.group_exists("root") && !Accounts::Host.group_exists("no-such-group-mls"));
    assert!(matches!(Accounts::of(Path::new("/")), Accounts::Host));
    assert!(matches!(Accounts::of(Path::new("/tmp")), Accounts::Files(_)));
}

#[test]
fn with_another_root_only_its_files_are_read() {
    let root = tempfile::tempdir().unwrap();
    // A staging tree has no user database: nobody exists there, whatever this machine has.
    assert_eq!(Accounts::of(root.path()).user("root"), None);
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nsvc:x:4242:4343::/:/bin/false\n")
        .unwrap();
    std::fs::write(root.path().join("etc/group"), "root:x:0:\nsvcgrp:x:4343:\n").unwrap();
    assert_eq!(
        Accounts::of(root.path()).user("svc"),
        Some(Account { uid: 4242, gid: 4343, group: Some("svcgrp".into()) })
    );
    assert_eq!(Accounts::of(root.path()).user("nobody"), None);
}

#[test]
fn the_useradd_line_takes_the_groups_the_target_has() {
    let root = tempfile::tempdir().unwrap();
    let accounts = Accounts::of(root.path());
    let home = Path::new("/var/lib/maillogsentinel");
    // A staging tree without a group database: no supplementary group is named.
    assert_eq!(
        accounts.useradd("mls", home).join(" "),
        "useradd --system --user-group --home-dir /var/lib/maillogsentinel --shell /usr/sbin/nologin mls"
    );
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/group"), "root:x:0:\nadm:x:4:\nmls:x:990:\n").unwrap();
    // adm is there, systemd-journal is not; a group of the user's name left from an earlier user
    // is taken as its primary group.
    assert_eq!(
        accounts.useradd("mls", home).join(" "),
        "useradd --system --gid mls --home-dir /var/lib/maillogsentinel --shell /usr/sbin/nologin --groups adm mls"
    );
    std::fs::write(root.path().join("etc/group"), "adm:x:4:\nsystemd-journal:x:999:\n").unwrap();
    assert!(accounts.useradd("mls", home).join(" ").ends_with(
        " --user-group --home-dir /var/lib/maillogsentinel --shell /usr/sbin/nologin --groups adm,systemd-journal mls"
    ));
}

#[test]
fn a_failed_useradd_is_an_error_naming_the_command_and_what_to_do() {
    let args: Vec<String> = ["useradd", "--no-such-option", "mls"].map(String::from).into();
    let err = run_useradd("mls", &args).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SetupError::CreateUser { .. }), "{text}");
    assert!(text.contains("`useradd --no-such-option mls` failed"), "{text}");
    assert!(text.contains("create the user") && text.contains("--user"), "{text}");
}
