//! Entry names for generated files and folders. The first files of every realm's root get
//! names that Parsec accepts (reference §5.6) but Windows or macOS do not, so that an
//! extractor meets them in any generated realm.

use rand::rngs::StdRng;
use rand::Rng;

/// Valid for Parsec, trouble elsewhere: `:` and a device name (Windows), a trailing dot
/// (Windows), a case collision (Windows and macOS), a precomposed (NFC) accent, `\`, `?`,
/// `*`, a trailing space, a control character.
pub(crate) const AWKWARD: &[&str] = &[
    "Foo",
    "foo",
    "a:b",
    "CON",
    "x.",
    "r\u{e9}sum\u{e9}.txt",
    "back\\slash",
    "what?.txt",
    "star*.md",
    "trailing space ",
    "tab\tname",
    "NUL.txt",
];

const STEMS: &[&str] = &[
    "report",
    "notes",
    "budget",
    "photo",
    "minutes",
    "contrat",
    "Übersicht",
    "plan",
    "draft",
    "données",
    "invoice",
    "日本語",
];

const EXTENSIONS: &[&str] = &["txt", "pdf", "odt", "png", "csv", "bin", "md", ""];

const FOLDERS: &[&str] = &[
    "Archive", "Projets", "Clients", "2024", "Scans", "Équipe", "tmp", "Shared",
];

/// A random file name; `serial` keeps names mostly distinct.
pub(crate) fn file_name(rng: &mut StdRng, serial: usize) -> String {
    let stem = STEMS[rng.gen_range(0..STEMS.len())];
    let ext = EXTENSIONS[rng.gen_range(0..EXTENSIONS.len())];
    if ext.is_empty() {
        format!("{stem} {serial}")
    } else {
        format!("{stem}-{serial}.{ext}")
    }
}

pub(crate) fn folder_name(rng: &mut StdRng, serial: usize) -> String {
    format!("{} {serial}", FOLDERS[rng.gen_range(0..FOLDERS.len())])
}

/// `name`, or `name (2)`, `name (3)`... whichever `taken` does not hold.
pub(crate) fn unique(name: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&name) {
        return name;
    }
    (2..)
        .map(|n| format!("{name} ({n})"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(name)
}

/// Realm (workspace) names, also awkward on purpose; the `n`th renaming adds a suffix.
pub(crate) fn realm_name(realm: usize, n: usize) -> String {
    const NAMES: &[&str] = &[
        "Projects",
        "Comptabilit\u{e9}",
        "R&D: prototypes",
        "Legal",
        "Human Resources",
        "Marketing 2024",
    ];
    let base = NAMES[realm % NAMES.len()];
    let base = if realm >= NAMES.len() {
        format!("{base} {realm}")
    } else {
        base.to_owned()
    };
    if n == 0 {
        base
    } else {
        format!("{base} (v{})", n + 1)
    }
}
