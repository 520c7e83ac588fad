//! Native side of the comparison: prints `name<TAB>microseconds per verification` (median
//! of batches) for every case, the same format as run.mjs prints for Wasm.
use edgeguard_wasm_verify::{setup, verify_n, CASES};
use std::time::{Duration, Instant};

fn main() {
    let setup = setup();
    for (index, (name, _)) in CASES.iter().enumerate() {
        assert!(
            verify_n(&setup, index, 3),
            "{name}: fixture token does not verify"
        );
        // Batch size so one batch takes ~20 ms; 15 batches; median.
        let start = Instant::now();
        verify_n(&setup, index, 10);
        let per = start.elapsed() / 10;
        let batch =
            (Duration::from_millis(20).as_nanos() / per.as_nanos().max(1)).clamp(1, 100_000) as u32;
        let mut samples: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                verify_n(&setup, index, batch);
                t.elapsed().as_secs_f64() * 1e6 / f64::from(batch)
            })
            .collect();
        samples.sort_by(|a, b| a.total_cmp(b));
        println!("{name}\t{:.1}", samples[samples.len() / 2]);
    }
}
