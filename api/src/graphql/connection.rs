//! Relay cursor connections with `totalCount`.

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
