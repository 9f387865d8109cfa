//! The prerequisite graph: longest paths, transitive dependents, cycles and execution-plan layers.
//!
//! Everything here is cycle-safe: a hand-edited ledger may contain a cycle, and no function loops or
//! overflows the stack on one; the functions that must refuse a cycle report its path.

/// One direction of a graph's edges in compressed form: node `i`'s neighbours are `self[i]`. One
/// allocation for all edges instead of one per node, which is most of what building a view of
/// thousands of tasks used to cost.
#[derive(Debug, Default)]
pub struct Adjacency {
    /// `edges[start[i]..start[i + 1]]` are node `i`'s neighbours.
    start: Vec<usize>,
    edges: Vec<usize>,
}

impl Adjacency {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.start.len().saturating_sub(1)
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same edges, pointing the other way; each node's new neighbours in ascending order.
    fn reversed(&self) -> Adjacency {
        let n = self.len();
        let mut start = vec![0usize; n + 1];
        for &to in &self.edges {
            start[to + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut edges = vec![0usize; self.edges.len()];
        for from in 0..n {
            for &to in &self[from] {
                edges[next[to]] = from;
                next[to] += 1;
            }
        }
        Adjacency { start, edges }
    }
}

impl std::ops::Index<usize> for Adjacency {
    type Output = [usize];

    fn index(&self, node: usize) -> &[usize] {
        &self.edges[self.start[node]..self.start[node + 1]]
    }
}

/// A graph over task indices: `prereqs[i]` are the tasks `i` waits for, `dependents[i]` the reverse.
#[derive(Debug, Default)]
pub struct Graph {
    /// Edges to prerequisites.
    pub prereqs: Adjacency,
    /// Edges to dependents.
    pub dependents: Adjacency,
}

impl Graph {
    /// Builds the graph of `n` nodes whose prerequisites `prereqs_of(i)` yields, and its reverse.
    pub fn build<I: IntoIterator<Item = usize>>(n: usize, mut prereqs_of: impl FnMut(usize) -> I) -> Graph {
        let mut start = Vec::with_capacity(n + 1);
        let mut edges = Vec::new();
        start.push(0);
        for i in 0..n {
            edges.extend(prereqs_of(i));
            start.push(edges.len());
        }
        let prereqs = Adjacency { start, edges };
        let dependents = prereqs.reversed();
        Graph { prereqs, dependents }
    }

    /// Builds the graph from per-node prerequisite lists.
    pub fn new(prereqs: Vec<Vec<usize>>) -> Graph {
        Graph::build(prereqs.len(), |i| prereqs[i].iter().copied())
    }

    /// Longest chain of edges from each of `starts` along `edges`, counting only nodes `live` says are
    /// live; a node whose neighbours are not live has length 0. Back edges of a cycle are ignored.
    /// Lengths are exact for `starts` and the nodes below them; other nodes read 0.
    pub fn longest_paths(
        edges: &Adjacency,
        live: &dyn Fn(usize) -> bool,
        starts: impl IntoIterator<Item = usize>,
    ) -> Vec<u32> {
        let n = edges.len();
        let mut length = vec![0u32; n];
        let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for start in starts {
            if state[start] != 0 || !live(start) {
                continue;
            }
            stack.push((start, 0));
            state[start] = 1;
            while let Some(top) = stack.last_mut() {
                let (node, next) = *top;
                if let Some(&m) = edges[node].get(next) {
                    top.1 += 1;
                    if live(m) && state[m] == 0 {
                        state[m] = 1;
                        stack.push((m, 0));
                    }
                } else {
                    let best = edges[node].iter().filter(|&&m| live(m) && state[m] == 2).map(|&m| length[m] + 1).max();
                    length[node] = best.unwrap_or(0);
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
        length
    }

    /// Number of distinct live nodes reachable along `edges` from each live node of `starts` (other
    /// nodes read 0).
    ///
    /// Cost is the sum of the reachable sets; fine for the shallow, wide graphs of real projects.
    pub fn reach_counts(
        edges: &Adjacency,
        live: &dyn Fn(usize) -> bool,
        starts: impl IntoIterator<Item = usize>,
    ) -> Vec<u32> {
        let n = edges.len();
        let mut counts = vec![0u32; n];
        let mut seen = vec![usize::MAX; n];
        let mut stack = Vec::new();
        for start in starts {
            if !live(start) || !edges[start].iter().any(|&m| live(m)) {
                continue;
            }
            seen[start] = start;
            stack.push(start);
            let mut count = 0u32;
            while let Some(node) = stack.pop() {
                for &m in &edges[node] {
                    if live(m) && seen[m] != start {
                        seen[m] = start;
                        count += 1;
                        stack.push(m);
                    }
                }
            }
            counts[start] = count;
        }
        counts
    }

    /// A path `from -> ... -> to` along prerequisite edges, if `to` is upstream of `from`.
    pub fn upstream_path(&self, from: usize, to: usize) -> Option<Vec<usize>> {
        let mut parent = vec![usize::MAX; self.prereqs.len()];
        let mut stack = vec![from];
        parent[from] = from;
        while let Some(node) = stack.pop() {
            if node == to {
                let mut path = vec![to];
                let mut cur = to;
                while cur != from {
                    cur = parent[cur];
                    path.push(cur);
                }
                path.reverse();
                return Some(path);
            }
            for &p in &self.prereqs[node] {
                if parent[p] == usize::MAX {
                    parent[p] = node;
                    stack.push(p);
                }
            }
        }
        None
    }

    /// Execution-plan layers for `members`: a member's layer is one more than the highest layer of any
    /// member upstream of it (through non-members too). Layers come out dense, so no batch is empty.
    /// A cycle upstream of a member is an error carrying the cycle as a list of nodes.
    pub fn plan_layers(&self, members: &[usize]) -> Result<Vec<Vec<usize>>, Vec<usize>> {
        let n = self.prereqs.len();
        let mut is_member = vec![false; n];
        for &m in members {
            is_member[m] = true;
        }
        // best[i]: highest member layer at or above i (-1 if none); layer[i] for members.
        let mut best = vec![i64::MIN; n];
        let mut layer = vec![0i64; n];
        let mut state = vec![0u8; n];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for &start in members {
            if state[start] == 2 {
                continue;
            }
            stack.push((start, 0));
            state[start] = 1;
            while let Some(top) = stack.last_mut() {
                let (node, next) = *top;
                if let Some(&p) = self.prereqs[node].get(next) {
                    top.1 += 1;
                    match state[p] {
                        0 => {
                            state[p] = 1;
                            stack.push((p, 0));
                        }
                        1 => {
                            let pos = stack.iter().position(|&(x, _)| x == p).expect("node on stack");
                            let mut cycle: Vec<usize> = stack[pos..].iter().map(|&(x, _)| x).collect();
                            cycle.push(p);
                            return Err(cycle);
                        }
                        _ => {}
                    }
                } else {
                    let above = self.prereqs[node].iter().map(|&p| best[p]).max().unwrap_or(-1).max(-1);
                    if is_member[node] {
                        layer[node] = above + 1;
                        best[node] = above + 1;
                    } else {
                        best[node] = above;
                    }
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
        let depth = members.iter().map(|&m| layer[m]).max().map_or(0, |d| d + 1) as usize;
        let mut batches = vec![Vec::new(); depth];
        for &m in members {
            batches[layer[m] as usize].push(m);
        }
        batches.retain(|b| !b.is_empty());
        Ok(batches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // a=0, b=1, c=2, d=3: b and c need a; d needs b and c.
    fn diamond() -> Graph {
        Graph::new(vec![vec![], vec![0], vec![0], vec![1, 2]])
    }

    #[test]
    fn diamond_plans_in_three_batches() {
        let g = diamond();
        let batches = g.plan_layers(&[3, 2, 1, 0]).unwrap();
        assert_eq!(batches, vec![vec![0], vec![2, 1], vec![3]]);
    }

    #[test]
    fn non_members_pass_constraints_through() {
        let g = diamond();
        assert_eq!(g.plan_layers(&[3, 0]).unwrap(), vec![vec![0], vec![3]]);
        assert_eq!(g.plan_layers(&[3]).unwrap(), vec![vec![3]]);
    }

    #[test]
    fn cycles_are_reported_not_looped() {
        let g = Graph::new(vec![vec![2], vec![0], vec![1]]);
        let cycle = g.plan_layers(&[0]).unwrap_err();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
        let all = |_| true;
        assert_eq!(Graph::longest_paths(&g.prereqs, &all, 0..3).len(), 3);
    }

    #[test]
    fn depth_and_reach_count_downstream_work() {
        let g = diamond();
        let all = |_| true;
        assert_eq!(Graph::longest_paths(&g.dependents, &all, 0..4), vec![2, 1, 1, 0]);
        assert_eq!(Graph::reach_counts(&g.dependents, &all, 0..4), vec![3, 1, 1, 0]);
        let not_d = |i| i != 3;
        assert_eq!(Graph::reach_counts(&g.dependents, &not_d, 0..4), vec![2, 0, 0, 0]);
        // Starting from one node gives that node's exact figures.
        assert_eq!(Graph::longest_paths(&g.dependents, &all, [0])[0], 2);
        assert_eq!(Graph::longest_paths(&g.prereqs, &all, [3])[3], 2);
        assert_eq!(Graph::reach_counts(&g.dependents, &all, [1]), vec![0, 1, 0, 0]);
        let path = g.upstream_path(3, 0).unwrap();
        assert!(path == vec![3, 1, 0] || path == vec![3, 2, 0], "{path:?}");
        assert_eq!(g.upstream_path(0, 3), None);
    }
}
