//! Names Parsec itself forbids (reference §5.6: `/`, `.`, `..`, NUL, empty, over 255 bytes)
//! in a hostile export: the folder listing one cannot be read as Parsec reads it, so it is
//! reported (`name_invalid`, naming the rule broken), nothing is written for it, and
//! nothing at all lands outside OUTPUT_DIR. A legal name whose escaped form is too long is
//! shortened and listed.

use crate::extract_support::*;
use crate::harness::fingerprint;
use crate::parsec_fixture::sequestered_files;

/// Root v1 is in force then; it lists bar.txt (v1, "Hello v1").
const AT: &str = "2000-01-10T00:00:00Z";

#[test]
fn names_parsec_forbids_are_reported_and_nothing_is_written_outside() {
    let long = "x".repeat(256);
    for (name, why) in [
        ("../escape", "contains `/`"),
        ("/etc/passwd", "contains `/`"),
        ("a/b", "contains `/`"),
        ("..", "`.` and `..` are not names"),
        (".", "`.` and `..` are not names"),
        ("nul\0byte", "contains NUL"),
        ("", "empty"),
        (long.as_str(), "longer than 255 bytes"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // With a legal sibling: the whole listing is refused, as Parsec's reader does.
        let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
            reseal_root_listing(c, &["fine.txt", name])
        });
        let before = fingerprint(&copy);
        let out = dir.path().join("out");
        let r = extract(&copy, &key_path(1), &["--at", AT, out.to_str().unwrap()]);
        assert_eq!(r.code, 3, "{name:?}: {}", r.all());
        let report = report_of(&out);
        assert_eq!(failure_checks(&report), ["name_invalid"], "{name:?}");
        let reason = report["failures"][0]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{name:?}: {reason}");
        assert_eq!(report["entries"][0]["type"], "error", "{name:?}");
        assert_eq!(report["entries"].as_array().unwrap().len(), 1, "{name:?}");
        // Only the layout itself: no file of the workspace, nothing beside OUTPUT_DIR.
        let written: Vec<String> = all_paths(&out)
            .into_iter()
            .filter(|p| p.starts_with("files/") || p.starts_with("damaged"))
            .collect();
        assert!(written.is_empty(), "{name:?}: {written:?}");
        let mut beside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        beside.sort();
        assert_eq!(beside, ["export.sqlite", "out"], "{name:?}");
        assert_eq!(fingerprint(&copy), before, "{name:?}: the export changed");
        // The text record names the culprit without raw control characters.
        let text = std::fs::read_to_string(out.join("report.txt")).unwrap();
        assert!(text.contains("name_invalid"), "{text}");
        assert!(!text.contains('\0'));
    }
}

#[test]
fn a_legal_name_too_long_once_escaped_is_shortened_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    // 255 bytes, the most Parsec allows; escaped, 765.
    let name = ":".repeat(255);
    let copy = altered_copy(&sequestered_files()[0], dir.path(), |c| {
        reseal_root_listing(c, &[&name, "plain.txt"])
    });
    let out = dir.path().join("out");
    let r = extract(&copy, &key_path(1), &["--at", AT, out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    let mut files: Vec<String> = std::fs::read_dir(out.join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[1], "plain.txt");
    let short = &files[0];
    assert!(short.len() <= 255, "{}", short.len());
    assert!(short.starts_with("%3A%3A"), "{short}");
    assert_eq!(
        std::fs::read(out.join("files").join(short)).unwrap(),
        b"Hello v1"
    );
    let report = report_of(&out);
    let escaped = report["names_escaped"].as_array().unwrap();
    assert_eq!(escaped.len(), 1, "{escaped:?}");
    assert_eq!(escaped[0]["path"], format!("/{name}"));
    assert_eq!(escaped[0]["written"], format!("files/{short}"));
}
