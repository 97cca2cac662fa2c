//! Keyset (cursor) pagination over any entity, for both database engines.
//!
//! A page is a window `(first, after)` forwards or `(last, before)` backwards over an
//! order `(sort keys..., id)`. Cursors are opaque: base64 of the sort keys and the id.

use crate::error::{AppError, AppResult};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ColumnType, Condition, ConnectionTrait, EntityTrait, FromQueryResult, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

/// Default page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The value of one sort key at a row.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SortKey {
    /// A text column.
    Text(String),
    /// A timestamp column.
    Time(DateTime<Utc>),
    /// A whole number (a column or a computed rank).
    Int(i64),
    /// A real number the database computed (e.g. a distance), kept as its IEEE-754
    /// bits so that the cursor gives the database back the very value it compared.
    Real(#[serde(with = "real_bits")] f64),
}

/// A real number written as the bits of its IEEE-754 double: lossless, and NaN or an
/// infinity cannot be spelled differently.
mod real_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}

/// The kind of a sort key: a cursor's keys must be of the kinds its order sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Text.
    Text,
    /// A timestamp.
    Time,
    /// A whole number.
    Int,
    /// A real number.
    Real,
}

impl KeyKind {
    /// The kind of a column's values (text for any type that is neither a time nor a
    /// number).
    fn of(column_type: &ColumnType) -> Self {
        match column_type {
            ColumnType::Timestamp
            | ColumnType::TimestampWithTimeZone
            | ColumnType::DateTime
            | ColumnType::Date => Self::Time,
            ColumnType::TinyInteger
            | ColumnType::SmallInteger
            | ColumnType::Integer
            | ColumnType::BigInteger
            | ColumnType::TinyUnsigned
            | ColumnType::SmallUnsigned
            | ColumnType::Unsigned
            | ColumnType::BigUnsigned => Self::Int,
            ColumnType::Float | ColumnType::Double => Self::Real,
            _ => Self::Text,
        }
    }
}

impl SortKey {
    /// The kind of this key.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Text(_) => KeyKind::Text,
            Self::Time(_) => KeyKind::Time,
            Self::Int(_) => KeyKind::Int,
            Self::Real(_) => KeyKind::Real,
        }
    }

    fn into_expr(self) -> Expr {
        match self {
            Self::Text(text) => Expr::val(text),
            Self::Time(time) => Expr::val(time),
            Self::Int(n) => Expr::val(n),
            Self::Real(x) => Expr::val(x),
        }
    }
}

/// A position in an ordered list: the sort keys at a row, and its id.
#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    /// Sort keys at the row, most significant first.
    pub keys: Vec<SortKey>,
    /// Id of the row (tie-breaker).
    pub id: Uuid,
}

impl Cursor {
    /// The position of a row in a list sorted by one key.
    pub fn new(key: SortKey, id: Uuid) -> Self {
        Self {
            keys: vec![key],
            id,
        }
    }

    /// Encodes the cursor as an opaque string (one text or time key in the short form
    /// cursors have always had; several keys as JSON).
    pub fn encode(&self) -> String {
        let raw = match self.keys.as_slice() {
            [SortKey::Text(text)] => format!("s|{}|{text}", self.id),
            [SortKey::Time(time)] => format!("t|{}|{}", self.id, time.to_rfc3339()),
            keys => format!(
                "k|{}|{}",
                self.id,
                serde_json::to_string(keys).unwrap_or_default()
            ),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decodes a cursor produced by [`Cursor::encode`].
    pub fn decode(cursor: &str) -> AppResult<Self> {
        let invalid = || AppError::BadUserInput(format!("invalid cursor `{cursor}`"));
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = raw.splitn(3, '|');
        let (Some(tag), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let id = Uuid::parse_str(id).map_err(|_| invalid())?;
        let keys = match tag {
            "s" => vec![SortKey::Text(key.to_owned())],
            "t" => vec![SortKey::Time(
                DateTime::parse_from_rfc3339(key)
                    .map_err(|_| invalid())?
                    .with_timezone(&Utc),
            )],
            "k" => serde_json::from_str(key).map_err(|_| invalid())?,
            _ => return Err(invalid()),
        };
        // The database gives finite values only: NaN or an infinity is a forgery.
        if keys
            .iter()
            .any(|key| matches!(key, SortKey::Real(x) if !x.is_finite()))
        {
            return Err(invalid());
        }
        Ok(Self { keys, id })
    }
}

/// A validated page request.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Number of rows wanted.
    pub limit: u64,
    /// True for `last`/`before` paging.
    pub backward: bool,
    /// Rows strictly after this cursor.
    pub after: Option<Cursor>,
    /// Rows strictly before this cursor.
    pub before: Option<Cursor>,
}

impl Window {
    /// Validates Relay arguments: at most one of `first` and `last`, sizes 0..=100.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> AppResult<Self> {
        let size = |name: &str, value: i32| -> AppResult<u64> {
            let value = u64::try_from(value)
                .map_err(|_| AppError::BadUserInput(format!("`{name}` must not be negative")))?;
            if value > MAX_PAGE_SIZE {
                return Err(AppError::BadUserInput(format!(
                    "`{name}` must be at most {MAX_PAGE_SIZE}, got {value}"
                )));
            }
            Ok(value)
        };
        let (limit, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(AppError::BadUserInput(
                    "pass either `first` or `last`, not both".to_owned(),
                ));
            }
            (Some(first), None) => (size("first", first)?, false),
            (None, Some(last)) => (size("last", last)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, before.is_some() && after.is_none()),
        };
        Ok(Self {
            limit,
            backward,
            after: after.map(Cursor::decode).transpose()?,
            before: before.map(Cursor::decode).transpose()?,
        })
    }

    /// The first `n` rows.
    pub fn first(n: u64) -> Self {
        Self {
            limit: n,
            backward: false,
            after: None,
            before: None,
        }
    }
}

/// How a list is ordered: sort keys (columns or computed expressions), most
/// significant first, with the id as the last tie-breaker.
///
/// The rows read are `R`: the entity's model, or (for keys the database computes, such
/// as a distance) a row that carries the computed keys beside it, so that the cursor
/// holds the very values the database compares.
pub struct Sort<E: EntityTrait, R = <E as EntityTrait>::Model> {
    /// The sort keys.
    pub keys: Vec<Expr>,
    /// The kind of each sort key, in the same order: a cursor with other kinds belongs
    /// to another order and is refused (compared with the keys it would be a type error
    /// in the database).
    pub kinds: Vec<KeyKind>,
    /// The id column.
    pub id: E::Column,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Reads the cursor of a row (its values of the keys, in the same order).
    pub cursor: fn(&R) -> Cursor,
}

impl<E: EntityTrait, R> Sort<E, R> {
    /// The order by one column, then the id, over rows read as `R`.
    pub fn by(
        column: E::Column,
        id: E::Column,
        descending: bool,
        cursor: fn(&R) -> Cursor,
    ) -> Self {
        Self {
            keys: vec![Expr::col(column)],
            kinds: vec![KeyKind::of(column.def().get_column_type())],
            id,
            descending,
            cursor,
        }
    }
}

/// One page of rows with their cursors.
#[derive(Debug)]
pub struct Page<M> {
    /// Rows in list order, each with its cursor.
    pub items: Vec<(M, String)>,
    /// More rows follow.
    pub has_next_page: bool,
    /// Rows precede.
    pub has_previous_page: bool,
}

impl<M> Page<M> {
    /// The same page with each row changed by `change` (cursors kept).
    pub fn map<N>(self, mut change: impl FnMut(M) -> N) -> Page<N> {
        Page {
            items: (self.items.into_iter())
                .map(|(row, cursor)| (change(row), cursor))
                .collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

/// Condition for rows strictly beyond `cursor` in the given direction: the row value
/// `(keys..., id)` greater (or less) than the cursor's. Written as one row comparison
/// rather than its expansion (`k > v OR (k = v AND id > i)`), so that both engines
/// start the index range at the cursor instead of reading the list from its start and
/// filtering: a deep page costs what the first one does.
fn beyond<E: EntityTrait, R>(
    sort: &Sort<E, R>,
    cursor: &Cursor,
    ascending: bool,
) -> AppResult<Condition> {
    if !cursor
        .keys
        .iter()
        .map(SortKey::kind)
        .eq(sort.kinds.iter().copied())
    {
        return Err(AppError::BadUserInput(
            "the cursor belongs to another order".to_owned(),
        ));
    }
    let columns = sort.keys.iter().cloned().chain([Expr::col(sort.id)]);
    let values =
        (cursor.keys.iter().cloned().map(SortKey::into_expr)).chain([Expr::val(cursor.id)]);
    let (columns, values) = (Expr::tuple(columns), Expr::tuple(values));
    let comparison = if ascending {
        columns.gt(values)
    } else {
        columns.lt(values)
    };
    Ok(Condition::all().add(comparison))
}

/// Fetches one page of `select` in the order `sort`.
pub async fn fetch_page<E, R, C>(
    db: &C,
    select: Select<E>,
    sort: &Sort<E, R>,
    window: &Window,
) -> AppResult<Page<R>>
where
    E: EntityTrait,
    R: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    let ascending = !sort.descending;
    let mut select = select;
    if let Some(after) = &window.after {
        select = select.filter(beyond(sort, after, ascending)?);
    }
    if let Some(before) = &window.before {
        select = select.filter(beyond(sort, before, !ascending)?);
    }
    // Backward pages read the order reversed, then flip the rows back.
    let read_ascending = ascending != window.backward;
    let order = if read_ascending {
        Order::Asc
    } else {
        Order::Desc
    };
    for key in &sort.keys {
        select = select.order_by(key.clone(), order.clone());
    }
    let mut rows = select
        .order_by(sort.id, order)
        .limit(window.limit + 1)
        .into_model::<R>()
        .all(db)
        .await?;
    let more = rows.len() as u64 > window.limit;
    rows.truncate(usize::try_from(window.limit).unwrap_or(usize::MAX));
    if window.backward {
        rows.reverse();
    }
    let items = rows
        .into_iter()
        .map(|row| {
            let cursor = (sort.cursor)(&row).encode();
            (row, cursor)
        })
        .collect();
    let (has_next_page, has_previous_page) = if window.backward {
        (window.before.is_some(), more)
    } else {
        (more, window.after.is_some())
    };
    Ok(Page {
        items,
        has_next_page,
        has_previous_page,
    })
}

/// One page of rows already read whole and in list order: the children of a parent,
/// loaded in one batch for every parent of a page, with the Relay arguments applied
/// here. `after` and `before` must be cursors of rows of this list (else
/// BAD_USER_INPUT: read the first page again).
pub fn page_of<M>(
    rows: Vec<M>,
    cursor: impl Fn(&M) -> Cursor,
    window: &Window,
) -> AppResult<Page<M>> {
    let position = |wanted: &Cursor| {
        rows.iter()
            .position(|row| cursor(row) == *wanted)
            .ok_or_else(|| {
                AppError::BadUserInput(
                    "the cursor is not in this list (any more): read the first page again"
                        .to_owned(),
                )
            })
    };
    let start = match &window.after {
        Some(after) => position(after)? + 1,
        None => 0,
    };
    let end = match &window.before {
        Some(before) => position(before)?,
        None => rows.len(),
    }
    .max(start);
    let limit = usize::try_from(window.limit).unwrap_or(usize::MAX);
    let (from, to) = if window.backward {
        (end.saturating_sub(limit).max(start), end)
    } else {
        (start, start.saturating_add(limit).min(end))
    };
    let (has_next_page, has_previous_page) = if window.backward {
        (window.before.is_some(), from > start)
    } else {
        (to < end, window.after.is_some())
    };
    let items = rows
        .into_iter()
        .skip(from)
        .take(to - from)
        .map(|row| {
            let encoded = cursor(&row).encode();
            (row, encoded)
        })
        .collect();
    Ok(Page {
        items,
        has_next_page,
        has_previous_page,
    })
}

/// Counts the rows of `select` (the whole list, not the page).
pub async fn count<E, C>(db: &C, select: Select<E>) -> AppResult<u64>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait,
{
    Ok(select.count(db).await?)
}

/// Fetches a page and, when asked, the total count of `select`.
pub async fn list<E, R, C>(
    db: &C,
    select: Select<E>,
    sort: &Sort<E, R>,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<R>, u64)>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    R: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    if with_total {
        let counted = count(db, select.clone());
        list_beside(db, select, sort, window, counted).await
    } else {
        Ok((fetch_page(db, select, sort, window).await?, 0))
    }
}

/// Fetches a page with its total from `total` (a count of the list, or one the
/// database keeps: [`crate::tally`]). The two go to the database together (two pooled
/// connections), so the total costs no round trip of its own.
pub async fn list_beside<E, R, C>(
    db: &C,
    select: Select<E>,
    sort: &Sort<E, R>,
    window: &Window,
    total: impl std::future::Future<Output = AppResult<u64>>,
) -> AppResult<(Page<R>, u64)>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    R: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    let (total, page) =
        futures_util::future::try_join(total, fetch_page(db, select, sort, window)).await?;
    Ok((page, total))
}

/// Escapes `%`, `_` and `\` for a LIKE pattern that uses `\` as escape character.
pub fn like_contains(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for ch in term.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_encoding() {
        let cursor = Cursor::new(SortKey::Text("città | due".to_owned()), Uuid::now_v7());
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        let time = Cursor::new(SortKey::Time(Utc::now()), Uuid::now_v7());
        assert_eq!(Cursor::decode(&time.encode()).ok(), Some(time));
        let several = Cursor {
            keys: vec![SortKey::Int(2), SortKey::Time(Utc::now())],
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&several.encode()).ok(), Some(several));
    }

    #[test]
    fn a_real_key_survives_encoding_to_the_last_bit() {
        // Values a decimal rendering could round: the cursor must give the database
        // back exactly what it computed.
        for x in [
            0.1 + 0.2,
            1.0 / 3.0,
            123.456_789_012_345_68,
            f64::MIN_POSITIVE,
            0.0,
        ] {
            let cursor = Cursor::new(SortKey::Real(x), Uuid::now_v7());
            let decoded = Cursor::decode(&cursor.encode()).map(|c| c.keys);
            let Ok([SortKey::Real(back)]) = decoded.as_deref() else {
                panic!("{x} did not come back: {decoded:?}");
            };
            assert_eq!(back.to_bits(), x.to_bits());
        }
    }

    #[test]
    fn a_cursor_holding_nan_or_an_infinity_is_bad_input() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let forged = Cursor::new(SortKey::Real(x), Uuid::now_v7()).encode();
            assert!(
                matches!(Cursor::decode(&forged), Err(AppError::BadUserInput(_))),
                "{x}"
            );
        }
    }

    /// Ten rows `(name, id)` in list order.
    fn ten() -> Vec<(String, Uuid)> {
        (0..10)
            .map(|i| (format!("row {i}"), Uuid::from_u128(i)))
            .collect()
    }

    fn position(row: &(String, Uuid)) -> Cursor {
        Cursor::new(SortKey::Text(row.0.clone()), row.1)
    }

    fn names(page: &Page<(String, Uuid)>) -> Vec<&str> {
        page.items.iter().map(|((n, _), _)| n.as_str()).collect()
    }

    #[test]
    fn a_list_read_whole_pages_forwards_and_backwards_like_a_query() {
        let first = page_of(
            ten(),
            position,
            &Window::new(Some(4), None, None, None).unwrap(),
        )
        .unwrap();
        assert_eq!(names(&first), ["row 0", "row 1", "row 2", "row 3"]);
        assert!(first.has_next_page && !first.has_previous_page);

        let end = first.items.last().map(|(_, c)| c.clone()).unwrap();
        let next = page_of(
            ten(),
            position,
            &Window::new(Some(4), Some(&end), None, None).unwrap(),
        )
        .unwrap();
        assert_eq!(names(&next), ["row 4", "row 5", "row 6", "row 7"]);
        assert!(next.has_next_page && next.has_previous_page);

        let last = page_of(
            ten(),
            position,
            &Window::new(None, None, Some(3), None).unwrap(),
        )
        .unwrap();
        assert_eq!(names(&last), ["row 7", "row 8", "row 9"]);
        assert!(last.has_previous_page && !last.has_next_page);

        let start = last.items.first().map(|(_, c)| c.clone()).unwrap();
        let before = page_of(
            ten(),
            position,
            &Window::new(None, None, Some(10), Some(&start)).unwrap(),
        )
        .unwrap();
        assert_eq!(before.items.len(), 7);
        assert!(!before.has_previous_page && before.has_next_page);
    }

    #[test]
    fn a_cursor_from_another_list_is_bad_input() {
        let stranger = Cursor::new(SortKey::Text("row 3".to_owned()), Uuid::from_u128(99));
        let window = Window::new(Some(2), Some(&stranger.encode()), None, None).unwrap();
        assert!(matches!(
            page_of(ten(), position, &window),
            Err(AppError::BadUserInput(_))
        ));
    }

    #[test]
    fn a_forged_cursor_is_bad_input() {
        assert!(matches!(
            Cursor::decode("not a cursor"),
            Err(AppError::BadUserInput(_))
        ));
        let forged = URL_SAFE_NO_PAD.encode("x|nope|1");
        assert!(matches!(
            Cursor::decode(&forged),
            Err(AppError::BadUserInput(_))
        ));
    }

    #[test]
    fn pages_larger_than_the_cap_are_refused() {
        assert!(Window::new(Some(101), None, None, None).is_err());
        assert!(Window::new(None, None, Some(101), None).is_err());
        assert!(Window::new(Some(-1), None, None, None).is_err());
        assert!(Window::new(Some(1), None, Some(1), None).is_err());
        assert_eq!(
            Window::new(Some(100), None, None, None)
                .map(|w| w.limit)
                .ok(),
            Some(100)
        );
        assert_eq!(
            Window::new(None, None, None, None).map(|w| w.limit).ok(),
            Some(20)
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_contains("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    /// Services by delivery mode (a computed rank), then name: several keys, ties on
    /// the first one, as in the inbox.
    fn two_keys() -> Sort<entity::service::Entity> {
        use entity::enums::DeliveryMode;
        use entity::service;
        use sea_orm::ColumnTrait;
        Sort {
            keys: vec![
                Expr::case(service::Column::DeliveryMode.eq(DeliveryMode::InPerson), 0)
                    .finally(1)
                    .into(),
                Expr::col(service::Column::SearchName),
            ],
            kinds: vec![KeyKind::Int, KeyKind::Text],
            id: service::Column::Id,
            descending: false,
            cursor: |row: &service::Model| Cursor {
                keys: vec![
                    SortKey::Int(i64::from(row.delivery_mode != DeliveryMode::InPerson)),
                    SortKey::Text(row.search_name.clone()),
                ],
                id: row.id,
            },
        }
    }

    #[tokio::test]
    async fn a_cursor_whose_keys_are_of_other_kinds_is_bad_input_not_a_database_error() {
        let db = crate::db::memory_with_demo().await;
        let all = entity::service::Entity::find();
        let by_time = Sort::by(
            entity::service::Column::CreatedAt,
            entity::service::Column::Id,
            false,
            |row: &entity::service::Model| Cursor::new(SortKey::Time(row.created_at), row.id),
        );
        assert_eq!(by_time.kinds, vec![KeyKind::Time]);
        let text = Cursor::new(SortKey::Text("zeta".to_owned()), Uuid::from_u128(7)).encode();
        let ranked = Cursor {
            keys: vec![SortKey::Int(1), SortKey::Text("zeta".to_owned())],
            id: Uuid::from_u128(7),
        }
        .encode();
        for (sort, cursor) in [(&by_time, &text), (&two_keys(), &text)] {
            let window = Window::new(Some(3), Some(cursor), None, None).unwrap();
            assert!(matches!(
                fetch_page(&db, all.clone(), sort, &window).await,
                Err(AppError::BadUserInput(_))
            ));
        }
        let window = Window::new(Some(3), Some(&ranked), None, None).unwrap();
        assert!(
            fetch_page(&db, all.clone(), &two_keys(), &window)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_multi_key_order_pages_through_every_row_once_both_ways() {
        let db = crate::db::memory_with_demo().await;
        let all = entity::service::Entity::find();
        let (whole, total) = list(&db, all.clone(), &two_keys(), &Window::first(100), true)
            .await
            .unwrap();
        let whole: Vec<Uuid> = whole.items.iter().map(|(row, _)| row.id).collect();
        assert_eq!(whole.len() as u64, total);
        assert!(total > 6, "the demo network has services to page through");
        let mut forward = Vec::new();
        let mut after = None;
        loop {
            let window = Window::new(Some(3), after.as_deref(), None, None).unwrap();
            let page = fetch_page(&db, all.clone(), &two_keys(), &window)
                .await
                .unwrap();
            forward.extend(page.items.iter().map(|(row, _)| row.id));
            after = page.items.last().map(|(_, cursor)| cursor.clone());
            if !page.has_next_page {
                break;
            }
        }
        assert_eq!(forward, whole);
        let mut backward = Vec::new();
        let mut before = None;
        loop {
            let window = Window::new(None, None, Some(4), before.as_deref()).unwrap();
            let page = fetch_page(&db, all.clone(), &two_keys(), &window)
                .await
                .unwrap();
            let ids: Vec<Uuid> = page.items.iter().map(|(row, _)| row.id).collect();
            backward.splice(0..0, ids);
            before = page.items.first().map(|(_, cursor)| cursor.clone());
            if !page.has_previous_page {
                break;
            }
        }
        assert_eq!(backward, whole);
        // A cursor of another order is refused, not misread.
        let one_key = Cursor::new(SortKey::Text("a".to_owned()), Uuid::nil()).encode();
        let window = Window::new(Some(3), Some(&one_key), None, None).unwrap();
        let refused = fetch_page(&db, all, &two_keys(), &window).await;
        assert!(matches!(refused, Err(AppError::BadUserInput(_))));
    }
}
