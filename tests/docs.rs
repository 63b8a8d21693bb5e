//! The generated man pages and completions: one page per command, each rendered by `man` without
//! warnings, and completions that bash loads.

// A test or example crate links every dependency of the package and uses a few of them.
#![allow(unused_crate_dependencies)]

#[path = "support/fixture.rs"]
mod fixture;

use std::process::Command;

#[test]
fn every_command_has_a_page_that_man_renders_and_bash_loads_the_completions() {
    let dir = tempfile::tempdir().unwrap();
    maillogsentinel::cli::docs::generate(dir.path()).unwrap();
    let man = dir.path().join("man");
    let mut pages: Vec<String> =
        std::fs::read_dir(&man).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    pages.sort();
    for command in ["", "-blocklist", "-geo", "-geo-lookup", "-geo-update", "-report", "-scan", "-setup", "-watch"] {
        let page = format!("maillogsentinel{command}.1.gz");
        assert!(pages.contains(&page), "{page} missing: {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("-help")), "{pages:?}");
    let available = Command::new("man").arg("--version").output().is_ok_and(|o| o.status.success());
    if fixture::require("man", available, "apt-get install man-db") {
        for page in &pages {
            let out = Command::new("man")
                .args(["--warnings", "-l"])
                .arg(man.join(page))
                .env("MANWIDTH", "80")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && warnings.trim().is_empty(), "{page}: {warnings}");
            assert!(text.contains("NAME") && text.contains("OPTIONS"), "{page}: {text}");
        }
        let watch = Command::new("man").arg("-l").arg(man.join("maillogsentinel-watch.1.gz")).output().unwrap();
        assert!(String::from_utf8_lossy(&watch.stdout).contains("--journal-dir"));
    }
    let completions = dir.path().join("completions");
    for file in ["maillogsentinel.bash", "_maillogsentinel", "maillogsentinel.fish"] {
        assert!(completions.join(file).exists(), "{file} missing");
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {:?} && complete -p maillogsentinel", completions.join("maillogsentinel.bash")))
        .output()
        .unwrap();
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("maillogsentinel"));
}
