//! numpy's `default_rng(seed)`, bit for bit: `SeedSequence` turns the seed
//! into a `PCG64` state, and `integers` and `choice` map its output to
//! bounded integers with Lemire's method, as numpy 1.17 and later do (the
//! stream is part of numpy's compatibility policy). sacreBLEU draws its
//! resamples this way, so drawing alike is what makes its p-values
//! reproducible here rather than merely similar.

/// `numpy.random.SeedSequence(entropy)` without spawn keys.
#[derive(Debug, Clone)]
pub struct SeedSequence {
    pool: [u32; POOL_SIZE],
}

const POOL_SIZE: usize = 4;
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut value = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    value = value.wrapping_mul(*hash_const);
    value ^ (value >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let result = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    result ^ (result >> XSHIFT)
}

impl SeedSequence {
    pub fn new(entropy: u128) -> SeedSequence {
        // The entropy as 32-bit words, least significant first; 0 is one word.
        let mut words = Vec::new();
        let mut rest = entropy;
        loop {
            words.push(rest as u32);
            rest >>= 32;
            if rest == 0 {
                break;
            }
        }
        let mut pool = [0u32; POOL_SIZE];
        let mut hash_const = INIT_A;
        for (i, slot) in pool.iter_mut().enumerate() {
            *slot = hashmix(words.get(i).copied().unwrap_or(0), &mut hash_const);
        }
        for src in 0..POOL_SIZE {
            for dst in 0..POOL_SIZE {
                if src != dst {
                    pool[dst] = mix(pool[dst], hashmix(pool[src], &mut hash_const));
                }
            }
        }
        for &word in words.iter().skip(POOL_SIZE) {
            for slot in pool.iter_mut() {
                *slot = mix(*slot, hashmix(word, &mut hash_const));
            }
        }
        SeedSequence { pool }
    }

    /// `generate_state(n, np.uint64)`.
    pub fn generate_u64(&self, n: usize) -> Vec<u64> {
        let mut hash_const = INIT_B;
        let words: Vec<u32> = (0..2 * n)
            .map(|i| {
                let mut value = self.pool[i % POOL_SIZE] ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                value = value.wrapping_mul(hash_const);
                value ^ (value >> XSHIFT)
            })
            .collect();
        words.chunks(2).map(|pair| u64::from(pair[0]) | (u64::from(pair[1]) << 32)).collect()
    }
}

const PCG_MULTIPLIER: u128 = 0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645;

/// numpy's `PCG64` (PCG XSL RR 128/64), with its 32-bit half kept for the
/// next 32-bit draw as numpy keeps it.
#[derive(Debug, Clone)]
pub struct Pcg64 {
    state: u128,
    increment: u128,
    half: Option<u32>,
}

impl Pcg64 {
    /// `PCG64(SeedSequence(seed))`, which `default_rng(seed)` makes.
    pub fn from_seed(seed: u128) -> Pcg64 {
        let words = SeedSequence::new(seed).generate_u64(4);
        let initial = (u128::from(words[0]) << 64) | u128::from(words[1]);
        let sequence = (u128::from(words[2]) << 64) | u128::from(words[3]);
        let mut pcg = Pcg64 { state: 0, increment: (sequence << 1) | 1, half: None };
        pcg.step();
        pcg.state = pcg.state.wrapping_add(initial);
        pcg.step();
        pcg
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULTIPLIER).wrapping_add(self.increment);
    }

    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let high = (self.state >> 64) as u64;
        let low = self.state as u64;
        (high ^ low).rotate_right((high >> 58) as u32)
    }

    pub fn next_u32(&mut self) -> u32 {
        if let Some(half) = self.half.take() {
            return half;
        }
        let next = self.next_u64();
        self.half = Some((next >> 32) as u32);
        next as u32
    }
}

/// `numpy.random.default_rng(seed)`: the draws sacreBLEU makes.
#[derive(Debug, Clone)]
pub struct Generator {
    pcg: Pcg64,
}

impl Generator {
    pub fn new(seed: u128) -> Generator {
        Generator { pcg: Pcg64::from_seed(seed) }
    }

    /// `integers(0, high, size=count)` (also what `choice(high, count)`
    /// with replacement draws): each in `0..high`.
    pub fn integers(&mut self, high: u64, count: usize) -> Vec<u64> {
        assert!(high > 0, "no integer is below 0");
        let range = high - 1;
        (0..count)
            .map(|_| match range {
                0 => 0,
                r if r < u64::from(u32::MAX) => u64::from(self.lemire_u32(r as u32)),
                r if r == u64::from(u32::MAX) => u64::from(self.pcg.next_u32()),
                u64::MAX => self.pcg.next_u64(),
                r => self.lemire_u64(r),
            })
            .collect()
    }

    /// `integers(2, size=count, dtype=bool)`: 32 draws from each 32-bit
    /// word, lowest bit first.
    pub fn booleans(&mut self, count: usize) -> Vec<bool> {
        let (mut buffer, mut left) = (0u32, 0u32);
        (0..count)
            .map(|_| {
                if left == 0 {
                    buffer = self.pcg.next_u32();
                    left = 31;
                } else {
                    buffer >>= 1;
                    left -= 1;
                }
                buffer & 1 == 1
            })
            .collect()
    }

    fn lemire_u32(&mut self, range: u32) -> u32 {
        let excluded = range + 1;
        let mut m = u64::from(self.pcg.next_u32()) * u64::from(excluded);
        let mut leftover = m as u32;
        if leftover < excluded {
            let threshold = (u32::MAX - range) % excluded;
            while leftover < threshold {
                m = u64::from(self.pcg.next_u32()) * u64::from(excluded);
                leftover = m as u32;
            }
        }
        (m >> 32) as u32
    }

    fn lemire_u64(&mut self, range: u64) -> u64 {
        let excluded = range + 1;
        let mut m = u128::from(self.pcg.next_u64()) * u128::from(excluded);
        let mut leftover = m as u64;
        if leftover < excluded {
            let threshold = (u64::MAX - range) % excluded;
            while leftover < threshold {
                m = u128::from(self.pcg.next_u64()) * u128::from(excluded);
                leftover = m as u64;
            }
        }
        (m >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Printed by numpy 2.4.6 (the stream is the same in every numpy since
    // 1.17): see each test's expression.

    #[test]
    fn seed_sequence_and_pcg64_equal_numpy() {
        // [hex(x) for x in np.random.SeedSequence(12345).generate_state(4, np.uint64)]
        assert_eq!(
            SeedSequence::new(12345).generate_u64(4),
            [0xb5ae6482a03d837c, 0xbbe2996ffa1f7a2f, 0x64e39a9f37158f94, 0x3ebb0f96a013fd73]
        );
        // default_rng(12345).bit_generator.state
        let pcg = Pcg64::from_seed(12345);
        assert_eq!(pcg.state, 33261208707367790463622745601869196757);
        assert_eq!(pcg.increment, 268209174141567072605526753992732310247);
        // [default_rng(12345).bit_generator.random_raw() for _ in range(3)]
        let mut pcg = Pcg64::from_seed(12345);
        let raw: Vec<u64> = (0..3).map(|_| pcg.next_u64()).collect();
        assert_eq!(raw, [4193609425186963869, 5843160025838961886, 14708796524633321433]);
    }

    #[test]
    fn bounded_integers_and_booleans_equal_numpy() {
        // default_rng(12345).choice(7, size=(2, 7), replace=True)
        assert_eq!(Generator::new(12345).integers(7, 14), [4, 1, 5, 2, 1, 5, 4, 4, 6, 2, 5, 2, 3, 4]);
        // default_rng(7).integers(0, 2**40, size=3)
        assert_eq!(Generator::new(7).integers(1 << 40, 3), [687299734001, 986497006767, 852875435924]);
        // default_rng(7).integers(0, 2**32, size=3, dtype=np.int64)
        assert_eq!(Generator::new(7).integers(1 << 32, 3), [4058335883, 2684764585, 2938530453]);
        // default_rng(12345).integers(2, size=(2, 40), dtype=bool).astype(int)
        let expected = "1011100110000011111111110100110110110001\
                        1000110101001100010111000111101100100011";
        let drawn: String = Generator::new(12345).booleans(80).iter().map(|&b| if b { '1' } else { '0' }).collect();
        assert_eq!(drawn, expected);
    }
}
