//! Text helpers shared by the API (search filters, stored search columns) and the
//! migrations and seeders that fill the same columns.

/// Folds text for accent- and case-insensitive search: "Città di Castello" becomes
/// "citta di castello". Stored beside searchable names and applied to search terms.
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folding_drops_accents_and_case() {
        assert_eq!(fold("Città di Castello"), "citta di castello");
        assert_eq!(fold("ÀÉÎÕÜ ßç"), "aeiou ssc");
    }
}
