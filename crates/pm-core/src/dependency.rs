use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

string_enum!(
    /// `blocks`: the blocking item must be done before the blocked one can be; it is directed and
    /// must stay acyclic. `relates_to`: an undirected note that two items belong together.
    DependencyType, field = "type" {
        Blocks = "blocks",
        RelatesTo = "relates_to",
    }
);

/// Would adding the `blocks` edge `blocking → blocked` to `edges` (each `(blocking, blocked)`)
/// close a cycle? If so, returns the cycle as a path that starts and ends with `blocking`:
/// `[blocking, blocked, …, blocking]`, ready to be shown as `WEB-3 → WEB-7 → WEB-3`.
///
/// A breadth-first search from `blocked` finds the shortest way back, so the path shown is the
/// shortest one that the new edge would close. A self-edge is reported as `[a, a]`.
pub fn find_cycle_path<Id>(edges: &[(Id, Id)], blocking: &Id, blocked: &Id) -> Option<Vec<Id>>
where
    Id: Eq + Hash + Clone,
{
    if blocking == blocked {
        return Some(vec![blocking.clone(), blocked.clone()]);
    }
    let mut successors: HashMap<&Id, Vec<&Id>> = HashMap::new();
    for (from, to) in edges {
        successors.entry(from).or_default().push(to);
    }
    // predecessor[n] = the node we reached n from; the start has none.
    let mut predecessor: HashMap<&Id, Option<&Id>> = HashMap::from([(blocked, None)]);
    let mut queue = VecDeque::from([blocked]);
    while let Some(node) = queue.pop_front() {
        if node == blocking {
            let mut path = vec![node.clone()];
            let mut cursor = node;
            while let Some(Some(prev)) = predecessor.get(cursor) {
                path.push((*prev).clone());
                cursor = prev;
            }
            path.push(blocking.clone());
            path.reverse();
            return Some(path);
        }
        for next in successors.get(node).into_iter().flatten() {
            if !predecessor.contains_key(next) {
                predecessor.insert(next, Some(node));
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_between_unconnected_items_forms_no_cycle() {
        assert_eq!(find_cycle_path(&[(1, 2), (3, 4)], &2, &3), None);
    }

    #[test]
    fn a_direct_opposite_link_is_a_cycle_of_two() {
        // 3 blocks 7 exists; adding 7 blocks 3 closes 7 → 3 → 7.
        assert_eq!(find_cycle_path(&[(3, 7)], &7, &3), Some(vec![7, 3, 7]));
    }

    #[test]
    fn a_long_cycle_is_reported_along_its_whole_path() {
        let edges = [(1, 2), (2, 3), (3, 4), (4, 5)];
        assert_eq!(
            find_cycle_path(&edges, &5, &1),
            Some(vec![5, 1, 2, 3, 4, 5])
        );
    }

    #[test]
    fn the_shortest_cycle_is_reported_when_several_exist() {
        let edges = [(1, 2), (2, 3), (3, 4), (1, 4)];
        assert_eq!(find_cycle_path(&edges, &4, &1), Some(vec![4, 1, 4]));
    }

    #[test]
    fn a_self_link_is_a_cycle() {
        assert_eq!(find_cycle_path::<i32>(&[], &9, &9), Some(vec![9, 9]));
    }

    #[test]
    fn diamonds_are_not_cycles() {
        let edges = [(1, 2), (1, 3), (2, 4), (3, 4)];
        assert_eq!(find_cycle_path(&edges, &1, &4), None);
        assert_eq!(find_cycle_path(&edges, &4, &5), None);
    }
}
