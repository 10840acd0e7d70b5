//! Virtual topologies for the simulator: who is linked to whom.

use weft_plugin_api::internal::rng::SplitMix64;

/// Nodes `0..nodes` and undirected links between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Number of nodes.
    pub nodes: usize,
    /// Links, each `(a, b)` with `a < b`.
    pub edges: Vec<(usize, usize)>,
}

impl Topology {
    /// From explicit links.
    pub fn from_edges(nodes: usize, edges: &[(usize, usize)]) -> Topology {
        let mut edges: Vec<(usize, usize)> = edges
            .iter()
            .filter(|(a, b)| a != b && *a < nodes && *b < nodes)
            .map(|&(a, b)| (a.min(b), a.max(b)))
            .collect();
        edges.sort_unstable();
        edges.dedup();
        Topology { nodes, edges }
    }

    /// `0 - 1 - ... - n-1`.
    pub fn line(nodes: usize) -> Topology {
        let edges: Vec<(usize, usize)> = (1..nodes).map(|i| (i - 1, i)).collect();
        Topology { nodes, edges }
    }

    /// A `width` x `height` grid, each node linked to its right and lower neighbour.
    pub fn grid(width: usize, height: usize) -> Topology {
        let mut edges = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let i = y * width + x;
                if x + 1 < width {
                    edges.push((i, i + 1));
                }
                if y + 1 < height {
                    edges.push((i, i + width));
                }
            }
        }
        Topology { nodes: width * height, edges }
    }

    /// Random geometric graph: `nodes` points in the unit square, linked
    /// when closer than the radius that gives `mean_degree` neighbours on
    /// average. Redrawn (new points) until connected, at most 100 times;
    /// then the largest draw is returned as is.
    pub fn random_geometric(nodes: usize, mean_degree: f64, seed: u64) -> Topology {
        Placement::random(nodes, mean_degree, seed).topology
    }

    /// Whether every node can reach every other.
    pub fn is_connected(&self) -> bool {
        if self.nodes == 0 {
            return true;
        }
        let adjacency = self.adjacency();
        let mut seen = vec![false; self.nodes];
        let mut stack = vec![0];
        seen[0] = true;
        while let Some(n) = stack.pop() {
            for &m in &adjacency[n] {
                if !seen[m] {
                    seen[m] = true;
                    stack.push(m);
                }
            }
        }
        seen.iter().all(|s| *s)
    }

    /// Neighbours of every node.
    pub fn adjacency(&self) -> Vec<Vec<usize>> {
        let mut adjacency = vec![Vec::new(); self.nodes];
        for &(a, b) in &self.edges {
            adjacency[a].push(b);
            adjacency[b].push(a);
        }
        adjacency
    }

    /// Hop distances from `from` (breadth-first; `usize::MAX` if unreachable).
    pub fn distances(&self, from: usize) -> Vec<usize> {
        let adjacency = self.adjacency();
        let mut distance = vec![usize::MAX; self.nodes];
        let mut queue = std::collections::VecDeque::from([from]);
        distance[from] = 0;
        while let Some(n) = queue.pop_front() {
            for &m in &adjacency[n] {
                if distance[m] == usize::MAX {
                    distance[m] = distance[n] + 1;
                    queue.push_back(m);
                }
            }
        }
        distance
    }

    /// Longest shortest path (hops), over connected pairs.
    pub fn diameter(&self) -> usize {
        (0..self.nodes)
            .map(|n| self.distances(n).into_iter().filter(|d| *d != usize::MAX).max().unwrap_or(0))
            .max()
            .unwrap_or(0)
    }
}

/// Where the nodes of a random geometric graph stand, and the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// Each node's position in the unit square.
    pub points: Vec<(f64, f64)>,
    /// Nodes closer than this are linked (they hear each other).
    pub radius: f64,
    /// The links.
    pub topology: Topology,
}

impl Placement {
    /// See [`Topology::random_geometric`].
    pub fn random(nodes: usize, mean_degree: f64, seed: u64) -> Placement {
        let mut rng = SplitMix64::new(seed);
        let radius = (mean_degree / (nodes.max(1) as f64 * std::f64::consts::PI)).sqrt();
        let mut last = Placement { points: Vec::new(), radius, topology: Topology { nodes, edges: Vec::new() } };
        for _ in 0..100 {
            let points: Vec<(f64, f64)> = (0..nodes).map(|_| (rng.unit(), rng.unit())).collect();
            last = Placement { topology: geometric(&points, radius), points, radius };
            if last.topology.is_connected() {
                break;
            }
        }
        last
    }

    /// The distance between nodes `a` and `b`.
    pub fn distance(&self, a: usize, b: usize) -> f64 {
        let ((ax, ay), (bx, by)) = (self.points[a], self.points[b]);
        ((ax - bx).powi(2) + (ay - by).powi(2)).sqrt()
    }
}

fn geometric(points: &[(f64, f64)], radius: f64) -> Topology {
    // Bucket points into cells of the radius so only nearby cells are compared.
    let cells = ((1.0 / radius).floor() as usize).max(1);
    let cell = |v: f64| ((v * cells as f64) as usize).min(cells - 1);
    let mut grid: Vec<Vec<usize>> = vec![Vec::new(); cells * cells];
    for (i, &(x, y)) in points.iter().enumerate() {
        grid[cell(y) * cells + cell(x)].push(i);
    }
    let mut edges = Vec::new();
    for (i, &(x, y)) in points.iter().enumerate() {
        let (cx, cy) = (cell(x), cell(y));
        for ny in cy.saturating_sub(1)..=(cy + 1).min(cells - 1) {
            for nx in cx.saturating_sub(1)..=(cx + 1).min(cells - 1) {
                for &j in &grid[ny * cells + nx] {
                    let (px, py) = points[j];
                    if j > i && (px - x).powi(2) + (py - y).powi(2) <= radius * radius {
                        edges.push((i, j));
                    }
                }
            }
        }
    }
    edges.sort_unstable();
    Topology { nodes: points.len(), edges }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_have_the_links_they_should() {
        assert_eq!(Topology::line(4).edges, vec![(0, 1), (1, 2), (2, 3)]);
        assert_eq!(Topology::line(4).diameter(), 3);
        let grid = Topology::grid(3, 2);
        assert_eq!(grid.edges.len(), 7);
        assert_eq!(grid.diameter(), 3);
        assert_eq!(Topology::from_edges(3, &[(1, 0), (0, 1), (2, 2), (1, 5)]).edges, vec![(0, 1)]);
        assert!(!Topology::from_edges(3, &[(0, 1)]).is_connected());
    }

    #[test]
    fn random_geometric_graphs_are_connected_with_the_asked_degree() {
        let graph = Topology::random_geometric(300, 10.0, 7);
        assert!(graph.is_connected());
        let degree = 2.0 * graph.edges.len() as f64 / 300.0;
        assert!((6.0..12.0).contains(&degree), "mean degree {degree}");
        assert_eq!(graph, Topology::random_geometric(300, 10.0, 7), "same seed, same graph");
    }
}
