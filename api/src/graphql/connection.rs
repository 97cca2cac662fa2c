//! Relay cursor connections with `totalCount`.

use crate::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use async_graphql::SimpleObject;

/// Information about a page of a connection.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page.
    pub end_cursor: Option<String>,
}

impl PageInfo {
    /// Builds page info from a fetched page.
    pub fn of<M>(page: &crate::pagination::Page<M>) -> Self {
        Self {
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            start_cursor: page.items.first().map(|(_, c)| c.clone()),
            end_cursor: page.items.last().map(|(_, c)| c.clone()),
        }
    }
}

/// Complexity of a connection field: its selection costs once per requested item.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let requested = page_items(first.map(i64::from), last.map(i64::from));
    let items = usize::try_from(requested).unwrap_or(usize::MAX);
    items.saturating_mul(child_complexity).saturating_add(1)
}

/// Complexity of a list field with no pagination (deprecated ones, kept until
/// partners move to their connection): costed as a page of the default size, so the
/// queries partners send today stay within the limit while they move.
pub fn list_cost(child_complexity: usize) -> usize {
    let items = usize::try_from(DEFAULT_PAGE_SIZE).unwrap_or(usize::MAX);
    items.saturating_mul(child_complexity).saturating_add(1)
}

/// Items a connection is costed for: `first`, else `last`, else the default page size;
/// at most the largest page.
pub fn page_items(first: Option<i64>, last: Option<i64>) -> u64 {
    first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| {
        u64::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)
    })
}

/// Declares `<Node>Connection` and `<Node>Edge` object types.
#[macro_export]
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("A page of ", $what, ".")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $conn {
            #[doc = concat!("Number of ", $what, " matching the filter, across all pages.")]
            pub total_count: u64,
            /// Information to aid in pagination.
            pub page_info: $crate::graphql::connection::PageInfo,
            /// The edges of this page.
            pub edges: Vec<$edge>,
            /// The nodes of this page, without cursors.
            pub nodes: Vec<$node>,
        }

        #[doc = concat!("An edge to one of ", $what, ".")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Cursor of this edge, for `after` and `before`.
            pub cursor: String,
            /// The item at the end of the edge.
            pub node: $node,
        }

        impl $conn {
            /// Builds a connection from a page of rows.
            pub fn from_page<M>(page: $crate::pagination::Page<M>, total_count: u64) -> Self
            where
                $node: From<M>,
                M: Clone,
            {
                let page_info = $crate::graphql::connection::PageInfo::of(&page);
                let mut edges = Vec::with_capacity(page.items.len());
                let mut nodes = Vec::with_capacity(page.items.len());
                for (row, cursor) in page.items {
                    nodes.push(<$node>::from(row.clone()));
                    edges.push($edge {
                        cursor,
                        node: <$node>::from(row),
                    });
                }
                Self {
                    total_count,
                    page_info,
                    edges,
                    nodes,
                }
            }
        }
    };
}
