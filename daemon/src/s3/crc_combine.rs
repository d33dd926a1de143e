//! The CRC of a concatenation from its pieces' CRCs and lengths (zlib's `crc32_combine`,
//! for any reflected CRC of up to 64 bits whose initial value and final XOR are all ones:
//! CRC-32, CRC-32C and CRC-64/NVME), so a multipart object's FULL_OBJECT checksum comes
//! from its parts' without reading their data again.

/// A reflected CRC: its width in bits and its reflected polynomial.
#[derive(Debug, Clone, Copy)]
pub struct Crc {
    width: usize,
    poly: u64,
}

/// CRC-32 (IEEE).
pub const CRC32: Crc = Crc {
    width: 32,
    poly: 0xEDB8_8320,
};
/// CRC-32C (Castagnoli).
pub const CRC32C: Crc = Crc {
    width: 32,
    poly: 0x82F6_3B78,
};
/// CRC-64/NVME.
pub const CRC64NVME: Crc = Crc {
    width: 64,
    poly: 0x9A6C_9329_AC4B_C9B5,
};

/// `mat` (a matrix over GF(2), one column per bit) times `vec`.
fn times(mat: &[u64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

/// `mat` squared.
fn square(mat: &[u64]) -> Vec<u64> {
    mat.iter().map(|&col| times(mat, col)).collect()
}

impl Crc {
    /// The CRC of `A‖B` from `crc(A)`, `crc(B)` and the length of `B` in bytes.
    pub fn combine(self, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
        if len_b == 0 {
            return crc_a;
        }
        // The operator that feeds one zero bit through the register.
        let mut odd: Vec<u64> = (0..self.width)
            .map(|n| if n == 0 { self.poly } else { 1u64 << (n - 1) })
            .collect();
        let mut even = square(&odd); // two zero bits
        odd = square(&even); // four zero bits
        let (mut crc, mut len) = (crc_a, len_b);
        // Apply len_b zero bytes to crc_a, one bit of the length at a time.
        loop {
            even = square(&odd);
            if len & 1 != 0 {
                crc = times(&even, crc);
            }
            len >>= 1;
            if len == 0 {
                break;
            }
            odd = square(&even);
            if len & 1 != 0 {
                crc = times(&odd, crc);
            }
            len >>= 1;
            if len == 0 {
                break;
            }
        }
        crc ^ crc_b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CRC of `data`, bit by bit (the reference).
    fn crc(c: Crc, data: &[u8]) -> u64 {
        let mask = if c.width == 64 {
            u64::MAX
        } else {
            (1u64 << c.width) - 1
        };
        let mut r = mask;
        for &b in data {
            r ^= u64::from(b);
            for _ in 0..8 {
                r = if r & 1 != 0 {
                    (r >> 1) ^ c.poly
                } else {
                    r >> 1
                };
            }
        }
        r ^ mask
    }

    #[test]
    fn the_check_values_and_any_split_agree() {
        assert_eq!(crc(CRC32, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc(CRC32C, b"123456789"), 0xE306_9283);
        assert_eq!(crc(CRC64NVME, b"123456789"), 0xAE8B_1486_0A79_9888);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for c in [CRC32, CRC32C, CRC64NVME] {
            for at in [0, 1, 9, 500, 999, 1000] {
                let (a, b) = data.split_at(at);
                let joined = c.combine(crc(c, a), crc(c, b), b.len() as u64);
                assert_eq!(joined, crc(c, &data), "{c:?} split at {at}");
            }
        }
    }
}
