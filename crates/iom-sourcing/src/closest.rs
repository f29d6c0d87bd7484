//! The baseline the optimisers are measured against: each line from the closest node that has
//! stock, under the same hard limits.

use crate::heuristic::State;
use crate::stage::{Pick, Stage};

pub(crate) fn solve(stage: &Stage) -> Vec<Pick> {
    let mut order: Vec<usize> = (0..stage.cands.len()).collect();
    order.sort_by(|&a, &b| stage.cands[a].km.total_cmp(&stage.cands[b].km));
    let mut state = State::new(stage);
    let mut buf = Vec::new();
    for l in 0..stage.lines.len() {
        for &c in &order {
            if state.remaining(l) == 0 {
                break;
            }
            // The offer respects every limit; keep only this line's share of it.
            state.offer(stage, c, &mut buf);
            if let Some(&(_, take)) = buf.iter().find(|(line, _)| *line == l) {
                state.assign(stage, c, l, take);
            }
        }
    }
    state.picks
}
