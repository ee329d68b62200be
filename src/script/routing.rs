//! Whether requests routed by probabilities ever end: the traffic equations of a queueing
//! network with feedback.
//!
//! Each node (a service or a topic) sends, per visit, an expected number of messages to each
//! other node: the routing matrix `P`. The expected visits per request are `v = e (I - P)^-1`,
//! finite exactly when the spectral radius of `P` is below 1 -- on each strongly connected
//! part of the graph, since visits outside cycles are finite sums. For such a part, `P` is
//! irreducible and non-negative, and `(I - P) x = 1` has a positive solution exactly when its
//! spectral radius is below 1 (with `y > 0` the left Perron vector, `y (I - P) x = (1 - r) y x`,
//! so a solution of `y · 1 > 0` needs `r < 1` or has a negative entry). The check solves that
//! system.

use std::collections::BTreeMap;

/// Expected messages per visit: from each node, to each node.
pub(crate) type Routing = BTreeMap<String, BTreeMap<String, f64>>;

/// The largest strongly connected part solved exactly (Gaussian elimination, cubic in its
/// size); a larger one is decided by power iteration.
const EXACT_UP_TO: usize = 1_000;

/// A cycle (its nodes, the first repeated at the end) around which requests would be routed
/// for ever on average -- the expected number of visits is infinite -- if there is one.
pub(crate) fn endless_cycle(routing: &Routing) -> Option<Vec<String>> {
    let names: Vec<&str> = routing
        .iter()
        .flat_map(|(from, to)| std::iter::once(from.as_str()).chain(to.keys().map(String::as_str)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<(usize, f64)>> = names
        .iter()
        .map(|name| {
            routing.get(*name).map_or_else(Vec::new, |to| {
                to.iter()
                    .filter(|(_, weight)| **weight > 0.0)
                    .map(|(to, weight)| (index[to.as_str()], *weight))
                    .collect()
            })
        })
        .collect();
    for part in strongly_connected(&edges) {
        let cyclic = part.len() > 1 || edges[part[0]].iter().any(|(to, _)| *to == part[0]);
        if cyclic && !finite_visits(&edges, &part) {
            return Some(
                cycle_through(&edges, &part)
                    .into_iter()
                    .map(|node| names[node].to_string())
                    .collect(),
            );
        }
    }
    None
}

/// The strongly connected parts of the graph (Tarjan's algorithm, iterative), each sorted.
fn strongly_connected(edges: &[Vec<(usize, f64)>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut order = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut parts = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if order[root] != usize::MAX {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = calls.last_mut() {
            if let Some(&(to, _)) = edges[node].get(*next) {
                *next += 1;
                if order[to] == usize::MAX {
                    order[to] = counter;
                    low[to] = counter;
                    counter += 1;
                    stack.push(to);
                    on_stack[to] = true;
                    calls.push((to, 0));
                } else if on_stack[to] {
                    low[node] = low[node].min(order[to]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == order[node] {
                let mut part = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    part.push(member);
                    if member == node {
                        break;
                    }
                }
                part.sort_unstable();
                parts.push(part);
            }
        }
    }
    parts.sort();
    parts
}

/// Whether the spectral radius of the routing matrix restricted to `part` (strongly
/// connected) is below 1.
fn finite_visits(edges: &[Vec<(usize, f64)>], part: &[usize]) -> bool {
    let local: BTreeMap<usize, usize> = part.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let k = part.len();
    let inner = |node: usize| {
        edges[node]
            .iter()
            .filter_map(|(to, weight)| local.get(to).map(|&j| (j, *weight)))
    };
    if k > EXACT_UP_TO {
        return power_iteration_below_one(k, |x: &[f64], y: &mut [f64]| {
            for (i, node) in part.iter().enumerate() {
                y[i] = inner(*node).map(|(j, w)| w * x[j]).sum();
            }
        });
    }
    // (I - P) x = 1, by Gaussian elimination with partial pivoting.
    let mut a = vec![vec![0.0; k + 1]; k];
    for (i, node) in part.iter().enumerate() {
        a[i][i] = 1.0;
        a[i][k] = 1.0;
        for (j, weight) in inner(*node) {
            a[i][j] -= weight;
        }
    }
    for column in 0..k {
        let pivot = (column..k)
            .max_by(|&x, &y| a[x][column].abs().total_cmp(&a[y][column].abs()))
            .unwrap_or(column);
        if a[pivot][column].abs() < 1e-12 {
            return false;
        }
        a.swap(column, pivot);
        let (above, below) = a.split_at_mut(column + 1);
        let pivot_row = &above[column];
        for row in below.iter_mut() {
            let factor = row[column] / pivot_row[column];
            if factor != 0.0 {
                for (cell, pivot) in row[column..].iter_mut().zip(&pivot_row[column..]) {
                    *cell -= factor * pivot;
                }
            }
        }
    }
    let mut x = vec![0.0; k];
    for row in (0..k).rev() {
        let rest: f64 = (row + 1..k).map(|c| a[row][c] * x[c]).sum();
        x[row] = (a[row][k] - rest) / a[row][row];
    }
    // A tiny positive solution is round-off of a singular system: a million expected visits
    // per request is already a model that never drains.
    x.iter().all(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
}

/// Decides whether the spectral radius of `P` (given by `apply`: `y = P x`) is below 1 from
/// the Collatz-Wielandt bounds `min (P x)_i / x_i <= r <= max (P x)_i / x_i`, iterating on
/// `(I + P) / 2` (primitive, the same Perron vector). Undecided after the iterations: not
/// shown finite.
fn power_iteration_below_one(k: usize, apply: impl Fn(&[f64], &mut [f64])) -> bool {
    let mut x = vec![1.0; k];
    let mut y = vec![0.0; k];
    for _ in 0..10_000 {
        apply(&x, &mut y);
        let ratios = x.iter().zip(&y).map(|(x, y)| y / x);
        let (low, high) = ratios.fold((f64::INFINITY, 0.0f64), |(l, h), r| (l.min(r), h.max(r)));
        if high < 1.0 - 1e-9 {
            return true;
        }
        if low >= 1.0 {
            return false;
        }
        let mut norm = 0.0f64;
        for (x, y) in x.iter_mut().zip(&y) {
            *x = (*x + y) / 2.0;
            norm = norm.max(*x);
        }
        if !(norm.is_finite() && norm > 0.0) {
            return false;
        }
        x.iter_mut().for_each(|x| *x /= norm);
    }
    false
}

/// A shortest cycle from the first node of `part` back to it, through `part`.
fn cycle_through(edges: &[Vec<(usize, f64)>], part: &[usize]) -> Vec<usize> {
    let start = part[0];
    let inside: std::collections::BTreeSet<usize> = part.iter().copied().collect();
    let mut previous: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &(to, _) in &edges[node] {
            if !inside.contains(&to) {
                continue;
            }
            if to == start {
                let mut path = vec![start, node];
                let mut at = node;
                while at != start {
                    at = previous[&at];
                    path.push(at);
                }
                path.reverse();
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(entry) = previous.entry(to) {
                entry.insert(node);
                queue.push_back(to);
            }
        }
    }
    vec![start, start]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(edges: &[(&str, &str, f64)]) -> Routing {
        let mut routing = Routing::new();
        for (from, to, weight) in edges {
            *routing
                .entry(from.to_string())
                .or_default()
                .entry(to.to_string())
                .or_default() += weight;
        }
        routing
    }

    #[test]
    fn a_feedback_loop_below_one_ends_and_at_one_does_not() {
        assert_eq!(endless_cycle(&routing(&[("a", "a", 0.5)])), None);
        assert_eq!(
            endless_cycle(&routing(&[("a", "a", 1.0)])),
            Some(vec!["a".to_string(), "a".to_string()])
        );
        // a -> b -> a with 0.9 * 0.9 < 1, and with a branch doubling the traffic: 2 * 0.6 > 1.
        assert_eq!(
            endless_cycle(&routing(&[("a", "b", 0.9), ("b", "a", 0.9)])),
            None
        );
        assert_eq!(
            endless_cycle(&routing(&[
                ("x", "a", 1.0),
                ("a", "b", 2.0),
                ("b", "a", 0.6)
            ])),
            Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
        );
        // Acyclic routing always ends, whatever the weights.
        assert_eq!(
            endless_cycle(&routing(&[("a", "b", 5.0), ("b", "c", 5.0)])),
            None
        );
    }

    #[test]
    fn large_parts_are_decided_by_power_iteration() {
        // A ring of 1,500 nodes: the product of the weights around it decides.
        let ring = |weight: f64| {
            let names: Vec<String> = (0..1_500).map(|i| format!("s{i:04}")).collect();
            let mut routing = Routing::new();
            for i in 0..names.len() {
                routing
                    .entry(names[i].clone())
                    .or_default()
                    .insert(names[(i + 1) % names.len()].clone(), weight);
            }
            routing
        };
        assert_eq!(endless_cycle(&ring(0.99)), None);
        assert!(endless_cycle(&ring(1.0)).is_some());
    }
}
