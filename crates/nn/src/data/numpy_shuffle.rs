//! numpy's legacy `np.random.RandomState(seed).shuffle`, bit for bit. Keras's
//! `image_dataset_from_directory` shuffles its list of files with it before it takes a
//! validation split, so that the same seed holds out the same files here as in Keras.

/// The Mersenne Twister MT19937 as numpy's `RandomState` seeds and runs it.
struct Mt19937 {
    state: [u32; Mt19937::N],
    next: usize,
}

impl Mt19937 {
    const N: usize = 624;
    const M: usize = 397;

    /// numpy's `mt19937_seed`: Knuth's linear recurrence from one 32-bit seed.
    fn new(seed: u32) -> Self {
        let mut state = [0u32; Mt19937::N];
        state[0] = seed;
        for i in 1..Mt19937::N {
            let previous = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(previous ^ (previous >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, next: Mt19937::N }
    }

    /// The next tempered 32-bit output.
    fn next_u32(&mut self) -> u32 {
        if self.next == Mt19937::N {
            self.regenerate();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Two outputs, the first in the high half, as numpy's `mt19937_next64`.
    fn next_u64(&mut self) -> u64 {
        (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())
    }

    fn regenerate(&mut self) {
        for i in 0..Mt19937::N {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % Mt19937::N] & 0x7fff_ffff);
            let mut value = self.state[(i + Mt19937::M) % Mt19937::N] ^ (y >> 1);
            if y & 1 == 1 {
                value ^= 0x9908_b0df;
            }
            self.state[i] = value;
        }
        self.next = 0;
    }

    /// numpy's `random_interval`: uniform in `0..=max` by masked rejection.
    fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        // The smallest all-ones mask covering max.
        let mask = u64::MAX >> max.leading_zeros();
        loop {
            let value = match u32::try_from(max) {
                Ok(_) => u64::from(self.next_u32()) & mask,
                Err(_) => self.next_u64() & mask,
            };
            if value <= max {
                return value;
            }
        }
    }
}

/// The order `np.random.RandomState(seed).shuffle` puts `0..n` in: Fisher-Yates from the end.
pub(crate) fn numpy_shuffled(n: usize, seed: u32) -> Vec<usize> {
    let mut rng = Mt19937::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // i < n fits in u64, and so does the draw, at most i, back in usize.
        let j = rng.interval(i as u64) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::numpy_shuffled;

    /// `x = list(range(n)); np.random.RandomState(seed).shuffle(x)` with numpy 2.4.6.
    #[test]
    fn shuffles_as_numpy_does() {
        let expected = [0, 17, 15, 1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6];
        assert_eq!(numpy_shuffled(20, 42), expected);
        let largest_seed = numpy_shuffled(1000, u32::MAX);
        assert_eq!(largest_seed[..10], [94, 405, 819, 632, 217, 169, 449, 275, 165, 828]);
        assert_eq!(numpy_shuffled(1, 7), [0]);
        assert!(numpy_shuffled(0, 7).is_empty());
    }
}
