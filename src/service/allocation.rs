//! Allocation of an order line's quantity across warehouses.
//!
//! Pure functions over the candidates' available quantities, so every strategy is unit tested
//! without a database. The caller holds locks on the candidates' items while it allocates.

use serde::{Deserialize, Serialize};

/// How a booking's lines are spread across the channel's warehouses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum AllocationStrategy {
    /// Lowest warehouse `priority` first, then the warehouse with the most available.
    Priority,
    /// Nearest warehouse to `shipTo` first (great-circle distance); warehouses without
    /// coordinates last.
    Nearest,
    /// One warehouse when one can cover the line, else the fewest warehouses, largest first.
    FewestSplits,
}

/// A warehouse that can supply a line.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub warehouse_id: i64,
    pub priority: i32,
    /// Kilometres from the ship-to point; `None` without coordinates or without a ship-to point.
    pub distance_km: Option<f64>,
    /// Units that can still be booked here; may be negative with back orders.
    pub available: i64,
}

/// Splits `quantity` across `candidates` by `strategy` and returns `(warehouse id, units)`
/// pairs. When the candidates hold too little, the rest goes to the first warehouse in the
/// strategy's order if `back_orders` is set; otherwise `None` is returned.
pub fn allocate(
    quantity: i64,
    candidates: &[Candidate],
    strategy: AllocationStrategy,
    back_orders: bool,
) -> Option<Vec<(i64, i64)>> {
    let mut ordered: Vec<&Candidate> = candidates.iter().collect();
    match strategy {
        AllocationStrategy::Priority => ordered.sort_by(|a, b| by_priority(a, b)),
        AllocationStrategy::Nearest => ordered.sort_by(|a, b| {
            match (a.distance_km, b.distance_km) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| by_priority(a, b))
        }),
        AllocationStrategy::FewestSplits => {
            ordered.sort_by(|a, b| by_priority(a, b));
            if let Some(single) = ordered.iter().find(|c| c.available >= quantity) {
                return Some(vec![(single.warehouse_id, quantity)]);
            }
            ordered.sort_by(|a, b| b.available.cmp(&a.available).then_with(|| by_priority(a, b)));
        }
    }

    let mut remaining = quantity;
    let mut parts: Vec<(i64, i64)> = Vec::new();
    for candidate in &ordered {
        if remaining == 0 {
            break;
        }
        let take = candidate.available.min(remaining);
        if take > 0 {
            parts.push((candidate.warehouse_id, take));
            remaining -= take;
        }
    }
    if remaining > 0 {
        if !back_orders {
            return None;
        }
        let first = ordered.first()?.warehouse_id;
        match parts.iter_mut().find(|(warehouse, _)| *warehouse == first) {
            Some(part) => part.1 += remaining,
            None => parts.insert(0, (first, remaining)),
        }
    }
    Some(parts)
}

fn by_priority(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    a.priority
        .cmp(&b.priority)
        .then_with(|| b.available.cmp(&a.available))
        .then_with(|| a.warehouse_id.cmp(&b.warehouse_id))
}

/// Great-circle distance in kilometres between two points given in degrees (haversine formula,
/// mean Earth radius 6371 km).
pub fn distance_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lon1) = (from.0.to_radians(), from.1.to_radians());
    let (lat2, lon2) = (to.0.to_radians(), to.1.to_radians());
    let a = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(warehouse_id: i64, priority: i32, distance_km: Option<f64>, available: i64) -> Candidate {
        Candidate { warehouse_id, priority, distance_km, available }
    }

    #[test]
    fn priority_takes_lowest_number_first() {
        let candidates = [candidate(1, 2, None, 10), candidate(2, 1, None, 3)];
        let parts = allocate(5, &candidates, AllocationStrategy::Priority, false).unwrap();
        assert_eq!(parts, vec![(2, 3), (1, 2)]);
    }

    #[test]
    fn priority_tie_prefers_most_available() {
        let candidates = [candidate(1, 0, None, 2), candidate(2, 0, None, 9)];
        let parts = allocate(3, &candidates, AllocationStrategy::Priority, false).unwrap();
        assert_eq!(parts, vec![(2, 3)]);
    }

    #[test]
    fn nearest_puts_unknown_distance_last() {
        let candidates = [candidate(1, 0, None, 10), candidate(2, 5, Some(900.0), 1), candidate(3, 5, Some(10.0), 1)];
        let parts = allocate(3, &candidates, AllocationStrategy::Nearest, false).unwrap();
        assert_eq!(parts, vec![(3, 1), (2, 1), (1, 1)]);
    }

    #[test]
    fn fewest_splits_uses_one_warehouse_when_possible() {
        let candidates = [candidate(1, 0, None, 4), candidate(2, 1, None, 8)];
        let parts = allocate(6, &candidates, AllocationStrategy::FewestSplits, false).unwrap();
        assert_eq!(parts, vec![(2, 6)]);
    }

    #[test]
    fn fewest_splits_takes_largest_first() {
        let candidates = [candidate(1, 0, None, 2), candidate(2, 1, None, 5), candidate(3, 2, None, 4)];
        let parts = allocate(9, &candidates, AllocationStrategy::FewestSplits, false).unwrap();
        assert_eq!(parts, vec![(2, 5), (3, 4)]);
    }

    #[test]
    fn shortage_without_back_orders_fails() {
        let candidates = [candidate(1, 0, None, 2)];
        assert!(allocate(3, &candidates, AllocationStrategy::Priority, false).is_none());
    }

    #[test]
    fn shortage_with_back_orders_goes_to_first_warehouse() {
        let candidates = [candidate(1, 0, None, 2), candidate(2, 1, None, 0)];
        let parts = allocate(5, &candidates, AllocationStrategy::Priority, true).unwrap();
        assert_eq!(parts, vec![(1, 5)]);
    }

    #[test]
    fn negative_available_is_skipped() {
        let candidates = [candidate(1, 0, None, -4), candidate(2, 1, None, 3)];
        let parts = allocate(3, &candidates, AllocationStrategy::Priority, false).unwrap();
        assert_eq!(parts, vec![(2, 3)]);
    }

    #[test]
    fn distance_new_york_to_rome() {
        let km = distance_km((40.7128, -74.0060), (41.9028, 12.4964));
        assert!((km - 6890.0).abs() < 30.0, "{km}");
    }
}
