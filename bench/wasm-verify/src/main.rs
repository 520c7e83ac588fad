//! Native side of the comparison: prints `name<TAB>microseconds per call` (median of
//! batches) for every case, the same format as run.mjs prints for Wasm; with the argument
//! `decisions`, for every `DECISIONS` row instead.
use edgeguard_wasm_verify::{decide_n, decider, setup, verify_n, CASES, DECISIONS};
use std::time::{Duration, Instant};

/// Median µs per call of `run(n)` over 15 batches of ~20 ms.
fn measure(name: &str, mut run: impl FnMut(u32) -> bool) {
    assert!(
        run(3),
        "{name}: the fixture does not give the expected outcome"
    );
    let start = Instant::now();
    run(10);
    let per = start.elapsed() / 10;
    let batch =
        (Duration::from_millis(20).as_nanos() / per.as_nanos().max(1)).clamp(1, 100_000) as u32;
    let mut samples: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            run(batch);
            t.elapsed().as_secs_f64() * 1e6 / f64::from(batch)
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    println!("{name}\t{:.1}", samples[samples.len() / 2]);
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("decisions") {
        let mut d = decider();
        for (index, name) in DECISIONS.iter().enumerate() {
            measure(name, |n| decide_n(&mut d, index, n));
        }
        return;
    }
    let setup = setup();
    for (index, (name, _)) in CASES.iter().enumerate() {
        measure(name, |n| verify_n(&setup, index, n));
    }
}
