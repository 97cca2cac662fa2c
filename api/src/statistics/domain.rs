//! Values of the statistics, parsed at the boundary, and the suppression rule: a pure
//! function over cells and the lines whose totals are published.
//!
//! **Primary suppression.** A cell counting people with a value from 1 to k − 1 is
//! suppressed (zeros are published: they name nobody).
//!
//! **Complementary suppression.** A *line* is a set of cells whose sum is published,
//! here or in another table a caller may ask for: the states of a row (their sum is the
//! row's total), the rejection reasons of a row (their sum is its REJECTED count), the
//! outcomes of a row (its COMPLETED count), and the cells of one measure along one
//! grouping dimension, the other keys fixed (their sum is a cell of the table grouped
//! without that dimension; months along the quarter that holds them, since quarters
//! are published). A line with exactly one suppressed cell would give it away by
//! subtraction, so the smallest published positive cell of that line is suppressed
//! too — preferring one that does not then stand alone in another of its lines — and
//! so on until no line has exactly one suppressed cell. Only a line whose other cells
//! are all zero can keep a single suppressed cell: its total then equals that cell,
//! and when that cell is under k so is the total, which is suppressed wherever it is
//! published.

use crate::error::AppError;

/// The first year a period may name.
pub const FIRST_YEAR: i32 = 2000;
/// The last year a period may name.
pub const LAST_YEAR: i32 = 2100;
/// Longest range of one question, in months (five years).
pub const MAX_MONTHS: i32 = 60;

/// A month as `year * 12 + month - 1` (the fact table's `sent_month`).
pub type MonthIndex = i32;

/// Parses `YYYY-MM` into a month index; `argument` names the input in the error.
pub fn parse_month(argument: &str, text: &str) -> Result<MonthIndex, AppError> {
    let bad = || {
        AppError::BadUserInput(format!(
            "{argument} must be a month as YYYY-MM between {FIRST_YEAR}-01 and {LAST_YEAR}-12, got {:?}",
            text.chars().take(20).collect::<String>()
        ))
    };
    let (year, month) = text.trim().split_once('-').ok_or_else(bad)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    let month: i32 = month.parse().map_err(|_| bad())?;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok(year * 12 + month - 1)
}

/// The `YYYY-MM` of a month index.
pub fn month_label(month: MonthIndex) -> String {
    format!(
        "{:04}-{:02}",
        month.div_euclid(12),
        month.rem_euclid(12) + 1
    )
}

/// The `YYYY-Qn` of a quarter index (`month / 3`).
pub fn quarter_label(quarter: i32) -> String {
    format!(
        "{:04}-Q{}",
        quarter.div_euclid(4),
        quarter.rem_euclid(4) + 1
    )
}

/// Granularity of the periods of a statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
}

/// A checked range of whole periods: `from` and `to` are months, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodRange {
    /// First month.
    pub from: MonthIndex,
    /// Last month.
    pub to: MonthIndex,
    /// Months or quarters.
    pub granularity: Granularity,
}

impl PeriodRange {
    /// Checks a range: `from` not after `to`, at most [`MAX_MONTHS`] months, and for
    /// quarters whole quarters (from a first month to a last month of a quarter).
    pub fn new(from: &str, to: &str, granularity: Granularity) -> Result<Self, AppError> {
        let from = parse_month("from", from)?;
        let to = parse_month("to", to)?;
        if from > to {
            return Err(AppError::BadUserInput(format!(
                "from ({}) is after to ({})",
                month_label(from),
                month_label(to)
            )));
        }
        let months = to - from + 1;
        if months > MAX_MONTHS {
            return Err(AppError::BadUserInput(format!(
                "the range spans {months} months; at most {MAX_MONTHS} may be asked at once"
            )));
        }
        if granularity == Granularity::Quarter && (from % 3 != 0 || to % 3 != 2) {
            return Err(AppError::BadUserInput(format!(
                "quarterly statistics need whole quarters: from must be January, April, July or October and to March, June, September or December, got {} to {}",
                month_label(from),
                month_label(to)
            )));
        }
        Ok(Self {
            from,
            to,
            granularity,
        })
    }

    /// The range widened to whole quarters: suppression is decided on whole quarters
    /// (months are lines of their quarter), so a cell reads the same whatever range
    /// asked for it.
    pub fn whole_quarters(&self) -> (MonthIndex, MonthIndex) {
        (
            self.from - self.from.rem_euclid(3),
            self.to - self.to.rem_euclid(3) + 2,
        )
    }

    /// The period key of a month: the month itself, or its quarter.
    pub fn period_of(&self, month: MonthIndex) -> i32 {
        match self.granularity {
            Granularity::Month => month,
            Granularity::Quarter => month.div_euclid(3),
        }
    }

    /// The label of a period key.
    pub fn label(&self, period: i32) -> String {
        match self.granularity {
            Granularity::Month => month_label(period),
            Granularity::Quarter => quarter_label(period),
        }
    }

    /// Whether a period key lies in the asked range.
    pub fn contains(&self, period: i32) -> bool {
        match self.granularity {
            Granularity::Month => (self.from..=self.to).contains(&period),
            Granularity::Quarter => (self.from / 3..=self.to / 3).contains(&period),
        }
    }
}

/// Nearest-rank percentile of a histogram (`(value, count)` sorted by value): the
/// smallest value at least `numerator / denominator` of the observations do not
/// exceed. `None` when empty.
pub fn nearest_rank(histogram: &[(i64, u64)], numerator: u64, denominator: u64) -> Option<i64> {
    let total: u64 = histogram.iter().map(|(_, c)| c).sum();
    let mut cumulative = 0;
    for (value, count) in histogram {
        cumulative += count;
        if cumulative * denominator >= numerator * total && total > 0 {
            return Some(*value);
        }
    }
    None
}

/// Which cells to suppress: `values` are the cells' counts, `lines` sets of cell
/// indexes whose sums are published (see the module's documentation), `k` the
/// threshold. Deterministic: ties go to the lower index.
pub fn suppress(values: &[u64], lines: &[Vec<usize>], k: u64) -> Vec<bool> {
    let mut suppressed: Vec<bool> = values.iter().map(|&v| v > 0 && v < k).collect();
    // The lines of each cell, to prefer complements that do not stand alone.
    let mut lines_of: Vec<Vec<usize>> = vec![Vec::new(); values.len()];
    for (index, line) in lines.iter().enumerate() {
        for &cell in line {
            if let Some(of) = lines_of.get_mut(cell) {
                of.push(index);
            }
        }
    }
    let alone_in_another_line = |cell: usize, chosen_in: usize, suppressed: &[bool]| {
        lines_of[cell].iter().any(|&other| {
            other != chosen_in && {
                let line = &lines[other];
                let others_suppressed = line.iter().any(|&c| c != cell && suppressed[c]);
                let others_positive = line.iter().any(|&c| c != cell && values[c] > 0);
                !others_suppressed && !others_positive
            }
        })
    };
    loop {
        let mut changed = false;
        for (index, line) in lines.iter().enumerate() {
            let count = line.iter().filter(|&&c| suppressed[c]).count();
            if count != 1 {
                continue;
            }
            let mut candidates: Vec<usize> = line
                .iter()
                .copied()
                .filter(|&c| !suppressed[c] && values[c] > 0)
                .collect();
            candidates.sort_by_key(|&c| (values[c], c));
            let choice = candidates
                .iter()
                .copied()
                .find(|&c| !alone_in_another_line(c, index, &suppressed))
                .or_else(|| candidates.first().copied());
            if let Some(cell) = choice {
                suppressed[cell] = true;
                changed = true;
            }
        }
        if !changed {
            return suppressed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_print_back() {
        let month = parse_month("from", "2026-03").expect("a month");
        assert_eq!(month, 2026 * 12 + 2);
        assert_eq!(month_label(month), "2026-03");
        assert_eq!(quarter_label(month / 3), "2026-Q1");
        for bad in [
            "2026-13", "2026-00", "26-01", "1999-12", "2101-01", "abcd-ef", "2026/01", "",
        ] {
            let error = parse_month("from", bad).expect_err(bad);
            assert_eq!(error.code(), "BAD_USER_INPUT", "{bad}");
        }
    }

    #[test]
    fn a_range_backwards_too_long_or_not_in_whole_quarters_is_refused() {
        let refused = |from, to, granularity| {
            PeriodRange::new(from, to, granularity)
                .expect_err("refused")
                .to_string()
        };
        assert!(refused("2026-05", "2026-04", Granularity::Month).contains("after"));
        assert!(refused("2000-01", "2100-12", Granularity::Month).contains("at most 60"));
        assert!(refused("2026-02", "2026-06", Granularity::Quarter).contains("whole quarters"));
        assert!(refused("2026-01", "2026-05", Granularity::Quarter).contains("whole quarters"));
        let range = PeriodRange::new("2026-02", "2026-04", Granularity::Month).expect("valid");
        assert_eq!(range.whole_quarters(), (2026 * 12, 2026 * 12 + 5));
        let quarters = PeriodRange::new("2026-01", "2026-06", Granularity::Quarter).expect("valid");
        assert_eq!(quarters.period_of(2026 * 12 + 4), (2026 * 12 + 4) / 3);
        assert!(quarters.contains((2026 * 12 + 4) / 3));
        assert!(!quarters.contains((2026 * 12 + 6) / 3));
        assert!(PeriodRange::new("2021-01", "2025-12", Granularity::Month).is_ok());
    }

    #[test]
    fn nearest_rank_percentiles_follow_the_definition() {
        // 1..=10: median 5, p90 9.
        let histogram: Vec<(i64, u64)> = (1..=10).map(|v| (v, 1)).collect();
        assert_eq!(nearest_rank(&histogram, 1, 2), Some(5));
        assert_eq!(nearest_rank(&histogram, 9, 10), Some(9));
        assert_eq!(nearest_rank(&[(7, 3)], 1, 2), Some(7));
        assert_eq!(nearest_rank(&[], 1, 2), None);
        // Counts: 0 twice, 100 once: the median is 0, p90 100.
        assert_eq!(nearest_rank(&[(0, 2), (100, 1)], 1, 2), Some(0));
        assert_eq!(nearest_rank(&[(0, 2), (100, 1)], 9, 10), Some(100));
    }

    #[test]
    fn cells_under_k_are_suppressed_and_zeros_and_larger_ones_are_not() {
        let values = [0, 1, 4, 5, 6, 100];
        assert_eq!(
            suppress(&values, &[], 5),
            vec![false, true, true, false, false, false]
        );
        assert!(suppress(&values, &[], 7)[4]);
    }

    #[test]
    fn a_lone_suppressed_cell_takes_the_next_smallest_of_its_line_with_it() {
        // Total 33 is published elsewhere: 3 alone would be 33 - 10 - 20.
        let suppressed = suppress(&[3, 20, 10], &[vec![0, 1, 2]], 5);
        assert_eq!(suppressed, vec![true, false, true]);
        // Zeros are no cover: the next positive cell is taken.
        let suppressed = suppress(&[3, 0, 10, 8], &[vec![0, 1, 2, 3]], 5);
        assert_eq!(suppressed, vec![true, false, false, true]);
        // Two primary cells already cover each other.
        let suppressed = suppress(&[3, 2, 10], &[vec![0, 1, 2]], 5);
        assert_eq!(suppressed, vec![true, true, false]);
    }

    #[test]
    fn complements_spread_across_crossing_lines_until_none_stands_alone() {
        // A 2x2 table: rows [0,1] [2,3], columns [0,2] [1,3].
        // 2 is small: its row takes 7 (index 1); then column [1,3] has 7 alone and
        // takes 9 (index 3); then row [2,3] has 9 alone... and takes 20 (index 2).
        let values = [2, 7, 20, 9];
        let lines = vec![vec![0, 1], vec![2, 3], vec![0, 2], vec![1, 3]];
        let suppressed = suppress(&values, &lines, 5);
        assert_eq!(suppressed, vec![true, true, true, true]);
    }

    #[test]
    fn a_complement_that_would_stand_alone_elsewhere_is_passed_over() {
        // Line A = [0, 1, 2]; cell 1 (value 6) is also in line B = [1, 3] whose other
        // cell is zero: suppressing it would leave it alone in B (its total, 6,
        // published), so cell 2 (value 8) is taken instead.
        let values = [3, 6, 8, 0];
        let lines = vec![vec![0, 1, 2], vec![1, 3]];
        assert_eq!(suppress(&values, &lines, 5), vec![true, false, true, false]);
    }

    /// xorshift, for reproducible random tables.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A random table of `rows` x `columns` cells with its row and column lines.
    fn random_table(rng: &mut Rng) -> (Vec<u64>, Vec<Vec<usize>>) {
        let rows = 1 + rng.below(8) as usize;
        let columns = 1 + rng.below(8) as usize;
        let values: Vec<u64> = (0..rows * columns)
            .map(|_| match rng.below(4) {
                0 => 0,
                1 => rng.below(5),
                _ => rng.below(40),
            })
            .collect();
        let mut lines: Vec<Vec<usize>> = (0..rows)
            .map(|r| (0..columns).map(|c| r * columns + c).collect())
            .collect();
        lines.extend((0..columns).map(|c| (0..rows).map(|r| r * columns + c).collect()));
        (values, lines)
    }

    #[test]
    fn on_random_tables_every_small_cell_is_suppressed_and_none_stands_alone() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for round in 0..2_000 {
            let (values, lines) = random_table(&mut rng);
            let k = 5 + rng.below(4);
            let suppressed = suppress(&values, &lines, k);
            for (cell, &value) in values.iter().enumerate() {
                if value > 0 && value < k {
                    assert!(
                        suppressed[cell],
                        "round {round}: cell {cell} = {value} shown"
                    );
                }
                if value == 0 {
                    assert!(!suppressed[cell], "round {round}: a zero suppressed");
                }
            }
            for line in &lines {
                let hidden: Vec<usize> = line.iter().copied().filter(|&c| suppressed[c]).collect();
                if hidden.len() == 1 {
                    let others_zero = line.iter().all(|&c| c == hidden[0] || values[c] == 0);
                    assert!(
                        others_zero,
                        "round {round}: {values:?} line {line:?} gives away cell {}",
                        hidden[0]
                    );
                }
            }
            // The same table always gives the same answer.
            assert_eq!(suppress(&values, &lines, k), suppressed);
            // A cell at or over k is hidden only as a complement: some line of it has
            // another hidden cell.
            for (cell, &value) in values.iter().enumerate() {
                if value >= k && suppressed[cell] {
                    assert!(lines.iter().any(|line| line.contains(&cell)
                        && line.iter().any(|&c| c != cell && suppressed[c])));
                }
            }
        }
    }

    #[test]
    fn a_total_recomputed_from_published_cells_never_pins_a_suppressed_one() {
        // The attacker's view: the line's total and every published cell. With at
        // least two hidden cells, their sum is known but each of them is not: there
        // are at least two ways to split it (unless every hidden cell but one is
        // forced to be zero, which cannot be: hidden cells are positive).
        let mut rng = Rng(0xfeed_0042);
        for _ in 0..2_000 {
            let (values, lines) = random_table(&mut rng);
            let suppressed = suppress(&values, &lines, 5);
            for line in &lines {
                let hidden: Vec<u64> = line
                    .iter()
                    .filter(|&&c| suppressed[c])
                    .map(|&c| values[c])
                    .collect();
                assert!(hidden.len() != 1 || line.iter().all(|&c| suppressed[c] || values[c] == 0));
                if hidden.len() >= 2 {
                    assert!(hidden.iter().all(|&v| v > 0));
                }
            }
        }
    }
}
