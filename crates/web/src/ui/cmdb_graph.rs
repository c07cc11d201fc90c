//! The impact graph as SVG coordinates: one column per depth (the CI itself first), CIs
//! stacked in each column, an edge from each CI to the one that reached it.

use opsdeck_store::cmdb::impact::ImpactItem;
use std::collections::HashMap;
use uuid::Uuid;

/// CIs drawn at most; the table below the graph lists all.
pub const GRAPH_MAX: usize = 60;
/// CIs drawn per column (one depth); the rest of a column is one "+N more" box.
const COLUMN_MAX: i64 = 10;
const COL: i64 = 210;
const ROW: i64 = 46;
const NODE_W: i64 = 180;
const NODE_H: i64 = 32;
const PAD: i64 = 8;

pub struct Node {
    /// `None` for a column's "+N more" box.
    pub id: Option<Uuid>,
    pub x: i64,
    pub y: i64,
    pub label: String,
    pub class: &'static str,
    pub service: bool,
    pub root: bool,
}

pub struct Edge {
    /// An SVG path (a cubic curve between the two boxes).
    pub d: String,
}

pub struct Graph {
    pub width: i64,
    pub height: i64,
    pub node_w: i64,
    pub node_h: i64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// CIs left out of the drawing (the table has them).
    pub hidden: usize,
}

fn short(name: &str) -> String {
    if name.chars().count() <= 22 {
        name.to_owned()
    } else {
        format!("{}…", name.chars().take(21).collect::<String>())
    }
}

/// Lays out `root` and the first [`GRAPH_MAX`] impacted CIs.
pub fn layout(root: (Uuid, &str, &'static str), items: &[ImpactItem]) -> Graph {
    let mut rows_per_col: HashMap<u32, i64> = HashMap::new();
    let mut at: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let mut nodes = Vec::new();
    let mut more: HashMap<u32, usize> = HashMap::new();
    let mut place = |id: Uuid, depth: u32, label: &str, class: &'static str, service: bool, root: bool| {
        let row = rows_per_col.entry(depth).or_insert(0);
        if *row >= COLUMN_MAX {
            *more.entry(depth).or_insert(0) += 1;
            return false;
        }
        let (x, y) = (PAD + i64::from(depth) * COL, PAD + *row * ROW);
        *row += 1;
        at.insert(id, (x, y));
        nodes.push(Node { id: Some(id), x, y, label: short(label), class, service, root });
        true
    };
    place(root.0, 0, root.1, root.2, root.2 == "business_service", true);
    // Business services first, so a wide column never hides them.
    let mut candidates: Vec<&ImpactItem> = items.iter().filter(|i| i.ci.id != root.0).take(GRAPH_MAX).collect();
    candidates.sort_by_key(|i| (i.depth, i.ci.class.as_str() != "business_service"));
    let mut shown = Vec::with_capacity(candidates.len());
    for i in candidates {
        let class = i.ci.class.as_str();
        if place(i.ci.id, i.depth, &i.ci.name, class, class == "business_service", false) {
            shown.push(i);
        }
    }
    for (depth, n) in &more {
        let row = rows_per_col.get(depth).copied().unwrap_or(0);
        let (x, y) = (PAD + i64::from(*depth) * COL, PAD + row * ROW);
        nodes.push(Node { id: None, x, y, label: format!("+{n} more"), class: "", service: false, root: false });
    }
    let mut edges = Vec::new();
    for i in &shown {
        let from = i.path.len().checked_sub(2).and_then(|k| i.path.get(k));
        if let (Some((x1, y1)), Some((x2, y2))) = (from.and_then(|f| at.get(f)), at.get(&i.ci.id)) {
            let (sx, sy, ex, ey) = (x1 + NODE_W, y1 + NODE_H / 2, *x2, y2 + NODE_H / 2);
            let mid = (sx + ex) / 2;
            edges.push(Edge { d: format!("M{sx},{sy} C{mid},{sy} {mid},{ey} {ex},{ey}") });
        }
    }
    let cols = nodes.iter().map(|n| n.x).max().unwrap_or(0) + NODE_W + PAD;
    let height = nodes.iter().map(|n| n.y).max().unwrap_or(0) + NODE_H + PAD;
    Graph {
        width: cols,
        height,
        node_w: NODE_W,
        node_h: NODE_H,
        hidden: items.iter().filter(|i| i.ci.id != root.0).count().saturating_sub(shown.len()),
        nodes,
        edges,
    }
}
