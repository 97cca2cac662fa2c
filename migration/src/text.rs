//! Text folding shared by migrations, seeders and the API's search filters.

/// Folds text for accent- and case-insensitive search: "Città di Castello" becomes
/// "citta di castello". Stored beside searchable names and applied to search terms.
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}
