//! Agreement statistics, each computed as its reference implementation
//! computes it, so that numbers agree with what reviewers' teams already
//! trust: Cohen's kappa as scikit-learn's `cohen_kappa_score`, Fleiss' kappa
//! as statsmodels' `fleiss_kappa`, Krippendorff's alpha as the
//! `krippendorff` package, Spearman's rho and Kendall's tau-b as scipy's
//! `spearmanr` and `kendalltau`. The conformance vectors in
//! `tests/conformance/review/agreement.jsonl` hold them to 1e-9.
//!
//! A statistic that is undefined for its data (every rating in one
//! category, fewer than two items) is `None`, where the references return
//! NaN: a report says "undefined", never a number that looks like one.

use std::collections::BTreeMap;

/// How Cohen's kappa weighs a disagreement between two labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weights {
    /// Every disagreement counts the same: for pass/fail and tags.
    Unweighted,
    /// By the distance between the labels' ranks.
    Linear,
    /// By the squared distance between the labels' ranks.
    Quadratic,
}

/// Cohen's kappa of two raters over the items both rated, `(first,
/// second)` per item. As scikit-learn, the labels are the sorted union of
/// both raters' labels, and weights use their ranks, not their values.
pub fn cohen_kappa<T: Ord + Clone>(pairs: &[(T, T)], weights: Weights) -> Option<f64> {
    let labels: Vec<&T> = {
        let mut labels: Vec<&T> = pairs.iter().flat_map(|(a, b)| [a, b]).collect();
        labels.sort();
        labels.dedup();
        labels
    };
    let k = labels.len();
    let index = |label: &T| labels.binary_search(&label).expect("every label is listed");
    let mut confusion = vec![vec![0.0f64; k]; k];
    for (a, b) in pairs {
        confusion[index(a)][index(b)] += 1.0;
    }
    let rows: Vec<f64> = confusion.iter().map(|row| row.iter().sum()).collect();
    let columns: Vec<f64> = (0..k).map(|j| confusion.iter().map(|row| row[j]).sum()).collect();
    let total: f64 = columns.iter().sum();
    let weight = |i: usize, j: usize| {
        let distance = i.abs_diff(j) as f64;
        match weights {
            Weights::Unweighted => f64::from(u8::from(i != j)),
            Weights::Linear => distance,
            Weights::Quadratic => distance * distance,
        }
    };
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            observed += weight(i, j) * confusion[i][j];
            // scikit-learn's np.outer(sum0, sum1) / n, with the weights symmetric.
            expected += weight(i, j) * (columns[i] * rows[j] / total);
        }
    }
    let kappa = 1.0 - observed / expected;
    kappa.is_finite().then_some(kappa)
}

/// Fleiss' kappa over items that each have the same number of ratings
/// (statsmodels' `fleiss_kappa` with `method="fleiss"`, on the table of
/// counts per item and category). `None` when items have different numbers
/// of ratings, or fewer than two, or the kappa is undefined.
pub fn fleiss_kappa<T: Ord>(items: &[Vec<T>]) -> Option<f64> {
    let raters = items.first()?.len();
    if raters < 2 || items.iter().any(|ratings| ratings.len() != raters) {
        return None;
    }
    let mut categories: BTreeMap<&T, f64> = BTreeMap::new();
    let mut agreement = 0.0;
    for ratings in items {
        let mut counts: BTreeMap<&T, f64> = BTreeMap::new();
        for rating in ratings {
            *counts.entry(rating).or_default() += 1.0;
            *categories.entry(rating).or_default() += 1.0;
        }
        let n = raters as f64;
        let squares: f64 = counts.values().map(|c| c * c).sum();
        agreement += (squares - n) / (n * (n - 1.0));
    }
    let total = (items.len() * raters) as f64;
    let p_mean = agreement / items.len() as f64;
    let p_expected: f64 = categories.values().map(|c| (c / total) * (c / total)).sum();
    let kappa = (p_mean - p_expected) / (1.0 - p_expected);
    kappa.is_finite().then_some(kappa)
}

/// The scale Krippendorff's alpha measures disagreement on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Nominal,
    Ordinal,
    Interval,
}

/// Krippendorff's alpha over units (items), each with the values its
/// raters gave (missing ratings simply absent), as the `krippendorff`
/// package computes it from its coincidence matrix; the value domain is the
/// sorted distinct values. Units with one value add nothing. `None` when
/// alpha is undefined (no pairable values, or a single value throughout).
pub fn krippendorff_alpha(units: &[Vec<f64>], level: Level) -> Option<f64> {
    let mut domain: Vec<f64> = units.iter().flatten().copied().collect();
    domain.sort_by(f64::total_cmp);
    domain.dedup();
    let v = domain.len();
    let index = |value: f64| domain.binary_search_by(|d| d.total_cmp(&value)).expect("in the domain");
    // o[c][k]: coincidences of values c and k within units.
    let mut o = vec![vec![0.0f64; v]; v];
    for unit in units {
        let mut counts = vec![0.0f64; v];
        for &value in unit {
            counts[index(value)] += 1.0;
        }
        let pairable = (unit.len() as f64).max(2.0);
        for c in 0..v {
            for k in 0..v {
                let pairs = counts[c] * counts[k] - if c == k { counts[c] } else { 0.0 };
                o[c][k] += pairs / (pairable - 1.0);
            }
        }
    }
    let n_v: Vec<f64> = (0..v).map(|k| (0..v).map(|c| o[c][k]).sum()).collect();
    let n: f64 = n_v.iter().sum();
    let distance = |c: usize, k: usize| match level {
        Level::Nominal => f64::from(u8::from(c != k)),
        Level::Interval => (domain[c] - domain[k]).powi(2),
        Level::Ordinal => {
            let (low, high) = (c.min(k), c.max(k));
            let between: f64 = n_v[low..=high].iter().sum();
            (between - (n_v[low] + n_v[high]) / 2.0).powi(2)
        }
    };
    let (mut observed, mut expected) = (0.0, 0.0);
    for c in 0..v {
        for k in 0..v {
            let d = distance(c, k);
            observed += o[c][k] * d;
            let random = (n_v[c] * n_v[k] - if c == k { n_v[c] } else { 0.0 }) / (n - 1.0);
            expected += random * d;
        }
    }
    let alpha = 1.0 - observed / expected;
    alpha.is_finite().then_some(alpha)
}

/// Ranks from 1, ties given their average rank (scipy's `rankdata`).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end, averaged.
        let average = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = average;
        }
        start = end;
    }
    ranks
}

/// Spearman's rho: Pearson's correlation of the average ranks. `None` for
/// fewer than two pairs or a constant side.
pub fn spearman_rho(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let x = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let y = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(&y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let rho = sxy / (sxx.sqrt() * syy.sqrt());
    rho.is_finite().then_some(rho.clamp(-1.0, 1.0))
}

/// Kendall's tau-b, which corrects for ties on either side (scipy's
/// `kendalltau`, its default). `None` for fewer than two pairs or a
/// constant side.
pub fn kendall_tau_b(pairs: &[(f64, f64)]) -> Option<f64> {
    let (mut concordant, mut discordant, mut x_ties, mut y_ties) = (0u64, 0u64, 0u64, 0u64);
    for (i, a) in pairs.iter().enumerate() {
        for b in &pairs[i + 1..] {
            let dx = a.0.total_cmp(&b.0);
            let dy = a.1.total_cmp(&b.1);
            match (dx.is_eq(), dy.is_eq()) {
                (true, true) => {
                    x_ties += 1;
                    y_ties += 1;
                }
                (true, false) => x_ties += 1,
                (false, true) => y_ties += 1,
                (false, false) if dx == dy => concordant += 1,
                (false, false) => discordant += 1,
            }
        }
    }
    let n = pairs.len() as u64;
    let total = (n * n.saturating_sub(1) / 2) as f64;
    let tau = (concordant as f64 - discordant as f64) / (total - x_ties as f64).sqrt() / (total - y_ties as f64).sqrt();
    tau.is_finite().then_some(tau.clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 30.0]), [1.5, 3.0, 1.5, 4.0]);
    }

    #[test]
    fn perfect_and_undefined_agreement() {
        let same = [("pass", "pass"), ("fail", "fail"), ("pass", "pass")];
        assert_eq!(cohen_kappa(&same, Weights::Unweighted), Some(1.0));
        assert_eq!(cohen_kappa(&[("pass", "pass"), ("pass", "pass")], Weights::Unweighted), None);
        assert_eq!(fleiss_kappa(&[vec![1, 1], vec![2]]), None, "unequal numbers of ratings");
        assert_eq!(krippendorff_alpha(&[vec![1.0, 1.0], vec![1.0]], Level::Nominal), None);
        assert_eq!(spearman_rho(&[(1.0, 2.0), (2.0, 2.0)]), None);
        assert_eq!(kendall_tau_b(&[(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]), Some(1.0));
    }
}
