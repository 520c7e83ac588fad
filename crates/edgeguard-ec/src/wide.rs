//! 256-bit numbers as eight u32 limbs (least significant first) and the full products both
//! fields reduce. Every 32x32->64 product is one Wasm `i64.mul`.

/// From 32 big-endian bytes.
pub(crate) fn limbs_from_be(bytes: &[u8; 32]) -> [u32; 8] {
    core::array::from_fn(|i| {
        let at = 28 - 4 * i;
        u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    })
}

pub(crate) fn limbs_to_be(limbs: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in limbs.iter().enumerate() {
        out[28 - 4 * i..32 - 4 * i].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// `a - b` and the borrow out (1 when a < b).
pub(crate) fn sub_limbs(a: &[u32; 8], b: &[u32; 8]) -> ([u32; 8], u64) {
    let mut r = [0u32; 8];
    let mut borrow = 0u64;
    for (i, limb) in r.iter_mut().enumerate() {
        let v = (a[i] as u64).wrapping_sub(b[i] as u64 + borrow);
        *limb = v as u32;
        borrow = v >> 63;
    }
    (r, borrow)
}

/// `a * b`, all 512 bits (operand scanning: each step's sum fits in 64 bits).
pub(crate) fn product(a: &[u32; 8], b: &[u32; 8]) -> [u32; 16] {
    let mut t = [0u32; 16];
    for i in 0..8 {
        let mut carry = 0u64;
        for j in 0..8 {
            let v = a[i] as u64 * b[j] as u64 + t[i + j] as u64 + carry;
            t[i + j] = v as u32;
            carry = v >> 32;
        }
        t[i + 8] = carry as u32;
    }
    t
}

/// `a * a`: each cross product once, doubled (36 products instead of 64).
pub(crate) fn square(a: &[u32; 8]) -> [u32; 16] {
    let mut t = [0u32; 16];
    for i in 0..8 {
        let mut carry = 0u64;
        for j in i + 1..8 {
            let v = a[i] as u64 * a[j] as u64 + t[i + j] as u64 + carry;
            t[i + j] = v as u32;
            carry = v >> 32;
        }
        t[i + 8] = carry as u32;
    }
    // Double the cross products (their sum is below 2^511, so nothing is shifted out).
    for i in (1..16).rev() {
        t[i] = (t[i] << 1) | (t[i - 1] >> 31);
    }
    t[0] <<= 1;
    let mut carry = 0u64;
    for i in 0..8 {
        let v = a[i] as u64 * a[i] as u64 + t[2 * i] as u64 + carry;
        t[2 * i] = v as u32;
        let v = t[2 * i + 1] as u64 + (v >> 32);
        t[2 * i + 1] = v as u32;
        carry = v >> 32;
    }
    t
}

/// `r - m` when r is at least m (for r below 2m), else r.
pub(crate) fn reduce_once(r: &[u32; 8], m: &[u32; 8]) -> [u32; 8] {
    let (t, borrow) = sub_limbs(r, m);
    if borrow == 0 {
        t
    } else {
        *r
    }
}

/// `a + b mod m`, for a and b below m (the sum may carry out of 256 bits).
pub(crate) fn add_mod(a: &[u32; 8], b: &[u32; 8], m: &[u32; 8]) -> [u32; 8] {
    let mut r = [0u32; 8];
    let mut carry = 0u64;
    for (i, limb) in r.iter_mut().enumerate() {
        let v = a[i] as u64 + b[i] as u64 + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    // Below 2m: one subtraction of m at most (always one when the sum carried out).
    let (t, borrow) = sub_limbs(&r, m);
    if carry == 1 || borrow == 0 {
        t
    } else {
        r
    }
}

/// `a - b mod m`, for a and b below m.
pub(crate) fn sub_mod(a: &[u32; 8], b: &[u32; 8], m: &[u32; 8]) -> [u32; 8] {
    let (r, borrow) = sub_limbs(a, b);
    if borrow == 0 {
        return r;
    }
    // Negative: add m back (the carry out cancels the borrow).
    let mut out = [0u32; 8];
    let mut carry = 0u64;
    for (i, limb) in out.iter_mut().enumerate() {
        let v = r[i] as u64 + m[i] as u64 + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    out
}
