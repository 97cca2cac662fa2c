//! Text folding, from the crate the API shares ([`melt_text`]).

pub use melt_text::fold;
