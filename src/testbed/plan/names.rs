//! The generated humans' names and devices.

/// (display form, ASCII form for emails)
pub(super) const FIRST_NAMES: &[(&str, &str)] = &[
    ("Alice", "alice"),
    ("Bob", "bob"),
    ("Chloé", "chloe"),
    ("David", "david"),
    ("Émilie", "emilie"),
    ("Farid", "farid"),
    ("Gaëlle", "gaelle"),
    ("Hugo", "hugo"),
    ("Inès", "ines"),
    ("Jérôme", "jerome"),
    ("Karim", "karim"),
    ("Léa", "lea"),
    ("Mallory", "mallory"),
    ("Noémie", "noemie"),
    ("Oscar", "oscar"),
    ("Pauline", "pauline"),
    ("Quentin", "quentin"),
    ("Rose", "rose"),
    ("Søren", "soren"),
    ("Thaïs", "thais"),
];

pub(super) const LAST_NAMES: &[(&str, &str)] = &[
    ("Martin", "martin"),
    ("Bernard", "bernard"),
    ("Dubois", "dubois"),
    ("Lefèvre", "lefevre"),
    ("Moreau", "moreau"),
    ("Garcia", "garcia"),
    ("Nguyen", "nguyen"),
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("Rossi", "rossi"),
];

pub(super) const DEVICE_KINDS: &[&str] = &["laptop", "desktop", "phone", "tablet"];
