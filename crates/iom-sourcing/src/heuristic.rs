//! The fast solver: greedy cover by score per unit, restarted from the most promising nodes, keeping
//! the best result. Every move is checked against the stage's hard limits (stock, capacity, nodes
//! per order and per line, whole lines), so whatever it returns is feasible.

use crate::stage::{Pick, Stage};

/// Greedy restarts, each forced to open one of the best-ranked candidates first. More restarts find
/// better plans on orders that need several nodes; this many keeps a 5-line order over 500 nodes
/// well under a millisecond.
const RESTARTS: usize = 6;

/// The search state of one greedy run.
#[derive(Clone)]
pub(crate) struct State {
    rem: Vec<u32>,
    stock: Vec<u32>,
    cap: Vec<Option<u32>>,
    opened: Vec<bool>,
    serving: Vec<bool>,
    new_opened: u32,
    line_new: Vec<u32>,
    kg: Vec<f64>,
    pub picks: Vec<Pick>,
    pub filled: u32,
    pub score: f64,
}

impl State {
    pub fn new(stage: &Stage) -> Self {
        Self {
            rem: stage.lines.iter().map(|l| l.qty).collect(),
            stock: stage.stock.clone(),
            cap: stage.cands.iter().map(|c| c.cap).collect(),
            opened: stage.cands.iter().map(|c| c.open).collect(),
            serving: stage.serving.clone(),
            new_opened: 0,
            line_new: vec![0; stage.lines.len()],
            kg: vec![0.0; stage.cands.len()],
            picks: Vec::new(),
            filled: 0,
            score: 0.0,
        }
    }

    pub fn remaining(&self, l: usize) -> u32 {
        self.rem[l]
    }

    /// Whether candidate `c` may ship anything more.
    pub fn can_use(&self, stage: &Stage, c: usize) -> bool {
        if self.opened[c] {
            return !(stage.cands[c].lines_cap && self.cap[c] == Some(0));
        }
        stage.max_new_nodes.is_none_or(|k| self.new_opened < k) && self.cap[c] != Some(0)
    }

    /// How many units of line `l` candidate `c` can ship now, with `slot_left` units of the line's
    /// SKU still free at `c` and `lines_left` line capacity.
    fn line_take(
        &self,
        stage: &Stage,
        c: usize,
        l: usize,
        slot_left: u32,
        lines_left: Option<u32>,
    ) -> u32 {
        let line = &stage.lines[l];
        let rem = self.rem[l];
        if rem == 0 {
            return 0;
        }
        if !self.serving[c * stage.lines.len() + l]
            && (line.new_nodes.is_some_and(|k| self.line_new[l] >= k) || lines_left == Some(0))
        {
            return 0;
        }
        if line.whole {
            if slot_left >= rem { rem } else { 0 }
        } else {
            rem.min(slot_left)
        }
    }

    /// What candidate `c` would ship now: (line, units) into `buf`, returning (units, score).
    pub fn offer(&self, stage: &Stage, c: usize, buf: &mut Vec<(usize, u32)>) -> (u32, f64) {
        buf.clear();
        if !self.can_use(stage, c) {
            return (0, 0.0);
        }
        let n_slots = stage.skus.len();
        let n_lines = stage.lines.len();
        let cand = &stage.cands[c];
        let mut lines_left = if cand.lines_cap { self.cap[c] } else { None };
        let mut slot_left = [0u32; 16];
        let wide = n_slots > slot_left.len();
        let mut slot_vec = if wide {
            self.stock[c * n_slots..(c + 1) * n_slots].to_vec()
        } else {
            Vec::new()
        };
        if !wide {
            slot_left[..n_slots].copy_from_slice(&self.stock[c * n_slots..(c + 1) * n_slots]);
        }
        let slots: &mut [u32] = if wide {
            &mut slot_vec
        } else {
            &mut slot_left[..n_slots]
        };
        let (mut units, mut score, mut kg) = (0u32, 0.0, 0.0);
        for l in 0..n_lines {
            let s = stage.lines[l].slot;
            let take = self.line_take(stage, c, l, slots[s], lines_left);
            if take == 0 {
                continue;
            }
            slots[s] -= take;
            if !self.serving[c * n_lines + l]
                && let Some(left) = &mut lines_left
            {
                *left -= 1;
            }
            buf.push((l, take));
            units += take;
            score += f64::from(take) * stage.unit(c, l);
            kg += f64::from(take) * stage.lines[l].kg;
        }
        if units == 0 {
            return (0, 0.0);
        }
        if !self.opened[c] {
            score += cand.fixed;
        }
        if !stage.brackets(c).is_empty() {
            score += stage.bracket_score(c, self.kg[c] + kg)
                - if self.kg[c] > 0.0 {
                    stage.bracket_score(c, self.kg[c])
                } else {
                    0.0
                };
        }
        (units, score)
    }

    /// Ships `take` units of line `l` from candidate `c`.
    pub fn assign(&mut self, stage: &Stage, c: usize, l: usize, take: u32) {
        let n_lines = stage.lines.len();
        let line = &stage.lines[l];
        self.stock[c * stage.skus.len() + line.slot] -= take;
        self.rem[l] -= take;
        if !self.serving[c * n_lines + l] {
            self.serving[c * n_lines + l] = true;
            self.line_new[l] += 1;
            if stage.cands[c].lines_cap
                && let Some(left) = &mut self.cap[c]
            {
                *left -= 1;
            }
        }
        if !self.opened[c] {
            self.opened[c] = true;
            self.new_opened += 1;
            if !stage.cands[c].lines_cap
                && let Some(left) = &mut self.cap[c]
            {
                *left -= 1;
            }
        }
        self.kg[c] += f64::from(take) * line.kg;
        self.filled += take;
        self.picks.push(Pick {
            line: l,
            cand: c,
            qty: take,
        });
    }

    pub fn take_offer(&mut self, stage: &Stage, c: usize, offer: &[(usize, u32)]) {
        for &(l, take) in offer {
            self.assign(stage, c, l, take);
        }
    }

    /// Better means more units, then a lower score.
    pub fn better_than(&self, other: &State) -> bool {
        self.filled > other.filled
            || (self.filled == other.filled && self.score < other.score - 1e-9)
    }
}

/// Extends `state` greedily: each step opens (or reuses) the candidate with the lowest score per
/// unit it can ship.
fn greedy(
    stage: &Stage,
    mut state: State,
    buf: &mut Vec<(usize, u32)>,
    best_buf: &mut Vec<(usize, u32)>,
) -> State {
    loop {
        let mut best: Option<(usize, f64)> = None;
        for c in 0..stage.cands.len() {
            let (units, score) = state.offer(stage, c, buf);
            if units == 0 {
                continue;
            }
            let ratio = score / f64::from(units);
            if best.is_none_or(|(_, r)| ratio < r) {
                best = Some((c, ratio));
                std::mem::swap(buf, best_buf);
            }
        }
        let Some((c, _)) = best else { break };
        state.take_offer(stage, c, best_buf);
    }
    state.score = stage.score(&state.picks);
    state
}

pub(crate) fn solve(stage: &Stage) -> Vec<Pick> {
    if stage.cands.is_empty() {
        return Vec::new();
    }
    let start = State::new(stage);
    let mut buf = Vec::with_capacity(stage.lines.len());
    let mut best_buf = Vec::with_capacity(stage.lines.len());

    // Rank every candidate by its first offer: the restarts begin from the best few, and the best
    // single-node cover is among them whenever one exists.
    let mut ranked: Vec<(u32, f64, usize)> = Vec::with_capacity(stage.cands.len());
    for c in 0..stage.cands.len() {
        let (units, score) = start.offer(stage, c, &mut buf);
        if units > 0 {
            ranked.push((units, score, c));
        }
    }
    let full = ranked.iter().map(|r| r.0).max().unwrap_or(0);
    let by_ratio = |a: &(u32, f64, usize), b: &(u32, f64, usize)| {
        (a.1 / f64::from(a.0)).total_cmp(&(b.1 / f64::from(b.0)))
    };
    let mut starts: Vec<usize> = Vec::with_capacity(RESTARTS + 1);
    // The cheapest candidate among those offering the most units (a single-node cover when one
    // exists), then the best by score per unit.
    if let Some(c) = ranked
        .iter()
        .filter(|r| r.0 == full)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|r| r.2)
    {
        starts.push(c);
    }
    let k = RESTARTS.min(ranked.len());
    if k > 0 {
        ranked.select_nth_unstable_by(k - 1, by_ratio);
        ranked[..k].sort_by(by_ratio);
        for r in &ranked[..k] {
            if !starts.contains(&r.2) {
                starts.push(r.2);
            }
        }
    }

    let mut best = greedy(stage, start.clone(), &mut buf, &mut best_buf);
    for c in starts {
        let mut s = start.clone();
        let (units, _) = s.offer(stage, c, &mut buf);
        if units == 0 {
            continue;
        }
        let offer = std::mem::take(&mut buf);
        s.take_offer(stage, c, &offer);
        buf = offer;
        let s = greedy(stage, s, &mut buf, &mut best_buf);
        if s.better_than(&best) {
            best = s;
        }
    }
    best.picks
}
