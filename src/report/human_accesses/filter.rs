//! `--query`: whitespace-separated terms that must all appear, case-insensitively, in the text
//! `<label> <<email>> <user ID as 32 hex> <user ID hyphenated>` (Parsec's matching text, so
//! that a handle copied from a report, `Name <email>`, matches too). Unlike Parsec, terms are
//! lowercased as well: `Alice` matches.

use uuid::Uuid;

#[derive(Debug, Clone, Default)]
pub struct Query {
    /// As given on the command line.
    pub text: Option<String>,
    terms: Vec<String>,
}

impl Query {
    pub fn parse(text: Option<&str>) -> Self {
        let terms = text
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        Self {
            text: text.map(str::to_owned),
            terms,
        }
    }

    pub fn matches(&self, label: &str, email: &str, user_id: &Uuid) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        let haystack = format!(
            "{label} <{email}> {} {}",
            user_id.simple(),
            user_id.hyphenated()
        )
        .to_lowercase();
        self.terms
            .iter()
            .all(|term| haystack.contains(term.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "a11cec00-1000-0000-0000-000000000000";

    fn matches(query: &str) -> bool {
        let id = Uuid::parse_str(ID).unwrap();
        Query::parse(Some(query)).matches("Alicey McAliceFace", "alice@example.com", &id)
    }

    #[test]
    fn every_term_must_match_somewhere() {
        assert!(matches(""));
        assert!(matches("   "));
        assert!(matches("alicey"));
        assert!(matches("mcaliceface alice@example"));
        assert!(!matches("alicey bob"));
        assert!(matches("<alice@example.com>"));
    }

    #[test]
    fn case_is_ignored_on_both_sides() {
        assert!(matches("ALICEY"));
        assert!(matches("McAliceFace"));
        assert!(matches("A11CEC00"));
    }

    #[test]
    fn both_user_id_forms_match() {
        assert!(matches("a11cec00100000000000000000000000"));
        assert!(matches(ID));
        assert!(matches("cec00-1000"));
        assert!(!matches("a11cec00-1000-0000-0000-000000000001"));
    }
}
