//! Deterministic test inputs (xorshift64*), with no dependency.

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 32 bytes, some with long runs of ones or zeros (where carries and borrows travel).
    pub(crate) fn bytes(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        match self.next() % 8 {
            0 => out[..16].fill(0xff),
            1 => out[16..].fill(0),
            2 => out[4..28].fill(0xff),
            _ => {}
        }
        out
    }
}
