//! Choosing each product's schedule by measuring it on the adapter at hand. The first time a
//! class of product (its kind, what it fuses, and its sizes rounded to powers of two) meets an
//! adapter, the candidate schedules are timed on the real operands within a small budget and the
//! fastest is kept — in memory, and in a file beside the pipeline cache named after the adapter
//! and driver, so later runs start tuned. The file records the kernel set's version; a new
//! kernel set ignores an old file.
//!
//! `TESSERA_AUTOTUNE` says how: `full` (the default) times what is not yet known; `cached` uses
//! what the file knows and the default schedule elsewhere, timing nothing; `off` always uses the
//! default schedule.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Kind, Product, Schedule};
use crate::Result;
use crate::gpu::context::Context;

/// The environment variable that sets the [`Mode`].
pub const AUTOTUNE_ENV: &str = "TESSERA_AUTOTUNE";

/// Bumped whenever the kernels change, so that old measurements are not trusted.
const KERNEL_SET_VERSION: u32 = 5;

/// The most time spent timing candidates for one class of product.
const BUDGET: Duration = Duration::from_secs(10);

/// How schedules are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Always the default schedule.
    Off,
    /// Known choices from the file, the default elsewhere; nothing is timed.
    Cached,
    /// Time the candidates of every class not yet known.
    Full,
}

impl Mode {
    /// The mode `TESSERA_AUTOTUNE` names (`full` when it is unset or unknown).
    pub fn from_env() -> Mode {
        match std::env::var(AUTOTUNE_ENV).as_deref() {
            Ok("off") => Mode::Off,
            Ok("cached") => Mode::Cached,
            _ => Mode::Full,
        }
    }
}

/// Every schedule a product may run with on an adapter whose subgroups have a fixed size
/// (`subgroup`), in the order they are tried.
pub(crate) fn candidates(subgroup: Option<u32>) -> Vec<Schedule> {
    let mut all = Vec::new();
    if let Some(size) = subgroup {
        // Each invocation loads its `tm` rows of A and `tn / size` columns of B per step of
        // the reduction and does `tm * tn` multiply-adds; on lavapipe a load costs a loop over
        // the SIMD lanes, so the larger `tm * tn / (tm + tn / size)`, the faster: over seven
        // runs 8 x 64 took 1024^3 at 6.5-11.7 GFLOP/s, 8 x 32 at 6.5-7.4. Blocks of 1,024
        // outputs (16 x 64, 8 x 128) were no faster and took lavapipe 35 s each to compile.
        let blocks = [(8, 32), (4, 32), (4, 64), (8, 64)];
        all.extend(
            blocks
                .into_iter()
                .filter(|&(_, tn)| tn % size == 0 && tn % 4 == 0)
                .map(|(tm, tn)| Schedule::Subgroup { tm, tn, size }),
        );
    }
    all.extend([
        Schedule::Direct { tm: 8, tn: 8 },
        Schedule::Direct { tm: 4, tn: 8 },
        Schedule::Direct { tm: 16, tn: 16 },
        Schedule::Direct { tm: 8, tn: 16 },
        Schedule::Direct { tm: 4, tn: 4 },
        Schedule::SplitK { tm: 4, tn: 8 },
        Schedule::SplitK { tm: 8, tn: 8 },
        Schedule::SplitK { tm: 4, tn: 4 },
        Schedule::SplitK { tm: 16, tn: 16 },
        Schedule::Tiled { bm: 64, bn: 64, bk: 16 },
        Schedule::Tiled { bm: 128, bn: 128, bk: 8 },
    ]);
    all
}

/// Whether `schedule` runs products of f16: lavapipe, whose f16 is emulated, took minutes to
/// compile a block of 8 x 64 per invocation in f16, so f16 keeps to blocks of at most 256.
fn takes_f16(schedule: Schedule) -> bool {
    match schedule {
        Schedule::Subgroup { tm, tn, .. } | Schedule::Direct { tm, tn } => tm * tn <= 256,
        Schedule::SplitK { .. } | Schedule::Tiled { .. } => true,
    }
}

/// The candidates worth timing for `product`: those whose tiles cover at most twice the output
/// (or, when none does, the tightest).
fn fitting(product: &Product<'_>, all: &[Schedule]) -> Vec<Schedule> {
    let all: Vec<Schedule> = all.iter().copied().filter(|&s| !product.half || takes_f16(s)).collect();
    let rows = product.m + usize::from(product.column_sums.is_some());
    let covered = |s: &Schedule| {
        let (tile_m, tile_n) = s.tile();
        rows.div_ceil(tile_m) * tile_m * product.n.div_ceil(tile_n) * tile_n
    };
    let needed = (rows * product.n).max(1);
    let tight: Vec<Schedule> = all.iter().copied().filter(|s| covered(s) <= 2 * needed).collect();
    if tight.is_empty() { all.into_iter().min_by_key(covered).into_iter().collect() } else { tight }
}

/// A class of products that one choice serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Class {
    kind: Kind,
    gate_a: bool,
    gate_b: bool,
    column_sums: bool,
    /// Whether the operands hold f16.
    half: bool,
    /// Whether A's rows and B's rows are contiguous (neither read transposed).
    a_rows: bool,
    b_rows: bool,
    /// Rows, columns and reduction length, rounded up to powers of two.
    m: usize,
    n: usize,
    k: usize,
}

impl Class {
    fn of(product: &Product<'_>) -> Class {
        let v = product.variant(Schedule::SplitK { tm: 4, tn: 4 });
        Class {
            kind: v.kind,
            gate_a: v.gate_a,
            gate_b: v.gate_b,
            column_sums: v.column_sums,
            half: v.half,
            a_rows: product.a.1.col == 1,
            b_rows: product.b.1.col == 1,
            m: product.m.next_power_of_two(),
            n: product.n.next_power_of_two(),
            k: product.k.next_power_of_two(),
        }
    }

    /// The class a line of the file names (see [`Class::key`]).
    fn parse(key: &str) -> Option<Class> {
        let (kind, rest) = key.split_once('/')?;
        let (flags, sizes) = rest.split_once('/')?;
        let kind = [Kind::Matrix, Kind::ConvForward, Kind::ConvKernelGrad, Kind::ConvInputGrad]
            .into_iter()
            .find(|k| format!("{k:?}") == kind)?;
        let flags: Vec<bool> = flags.chars().map(|c| c == '1').collect();
        let sizes: Vec<usize> = sizes.split('x').map(|v| v.parse().ok()).collect::<Option<_>>()?;
        let (&[gate_a, gate_b, column_sums, half, a_rows, b_rows], &[m, n, k]) =
            (flags.as_slice(), sizes.as_slice())
        else {
            return None;
        };
        Some(Class { kind, gate_a, gate_b, column_sums, half, a_rows, b_rows, m, n, k })
    }

    /// The class as one line of the file.
    fn key(&self) -> String {
        format!(
            "{:?}/{}{}{}{}{}{}/{}x{}x{}",
            self.kind,
            u8::from(self.gate_a),
            u8::from(self.gate_b),
            u8::from(self.column_sums),
            u8::from(self.half),
            u8::from(self.a_rows),
            u8::from(self.b_rows),
            self.m,
            self.n,
            self.k
        )
    }
}

/// The schedule used without measurements: a whole workgroup per small block when the output
/// is too small to keep a device busy and the reduction is deep; else subgroup broadcasts where
/// the adapter has them, registers otherwise.
pub(crate) fn default_schedule(product: &Product<'_>, subgroup: Option<u32>) -> Schedule {
    let rows = product.m + usize::from(product.column_sums.is_some());
    let blocked = match subgroup {
        Some(size) if 32 % size == 0 => Schedule::Subgroup { tm: 8, tn: 32, size },
        _ => Schedule::Direct { tm: 8, tn: 8 },
    };
    let (tile_m, tile_n) = blocked.tile();
    let workgroups = rows.div_ceil(tile_m) * product.n.div_ceil(tile_n) * product.batch;
    if workgroups < 16 && product.k >= 1024 { Schedule::SplitK { tm: 4, tn: 8 } } else { blocked }
}

/// An adapter's choices, and the file they persist in.
pub(crate) struct Tuner {
    mode: Mode,
    /// A schedule every product uses while it is set (to check each variant).
    pinned: Mutex<Option<Schedule>>,
    /// The adapter's fixed subgroup size, when it has one.
    subgroup: Option<u32>,
    file: Option<PathBuf>,
    chosen: Mutex<HashMap<Class, Schedule>>,
    /// The schedules products ran with since [`Tuner::take_used`] last asked.
    used: Mutex<BTreeSet<String>>,
}

impl Tuner {
    /// The tuner of an adapter whose identity is `adapter` (name, backend, driver), persisting
    /// in `dir` when given.
    pub(crate) fn new(mode: Mode, dir: Option<&Path>, adapter: &str, subgroup: Option<u32>) -> Tuner {
        let name: String = adapter.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let file = dir.map(|d| d.join(format!("autotune-{name}.txt")));
        let chosen = match (&file, mode) {
            (Some(file), Mode::Cached | Mode::Full) => load(file, subgroup),
            _ => HashMap::new(),
        };
        Tuner {
            mode,
            pinned: Mutex::new(None),
            subgroup,
            file,
            chosen: Mutex::new(chosen),
            used: Mutex::default(),
        }
    }

    /// The schedules this adapter's products may run with, by name.
    pub(crate) fn schedules(&self) -> Vec<String> {
        candidates(self.subgroup).iter().map(|s| s.name()).collect()
    }

    /// Those of [`Tuner::schedules`] that run products of f16.
    pub(crate) fn f16_schedules(&self) -> Vec<String> {
        candidates(self.subgroup).into_iter().filter(|&s| takes_f16(s)).map(|s| s.name()).collect()
    }

    /// Makes every product run with the schedule `name` (one of [`Tuner::schedules`]), or, with
    /// `None`, choose again.
    pub(crate) fn pin(&self, name: Option<&str>) -> Result<()> {
        let schedule = match name {
            None => None,
            Some(name) => {
                Some(candidates(self.subgroup).into_iter().find(|s| s.name() == name).ok_or_else(|| {
                    crate::Error::argument(
                        "pin_product_schedule",
                        format!(
                            "no schedule {name:?} on this adapter; it has {}",
                            self.schedules().join(", ")
                        ),
                    )
                })?)
            }
        };
        *self.pinned.lock() = schedule;
        Ok(())
    }

    /// The names of the schedules products ran with since the last call, in order of name.
    pub(crate) fn take_used(&self) -> Vec<String> {
        std::mem::take(&mut *self.used.lock()).into_iter().collect()
    }

    /// The schedule for `product`: pinned, known, measured now, or the default.
    pub(crate) fn schedule(&self, ctx: &Context, product: &Product<'_>) -> Result<Schedule> {
        let schedule = self.choose(ctx, product)?;
        self.used.lock().insert(schedule.name());
        Ok(schedule)
    }

    fn choose(&self, ctx: &Context, product: &Product<'_>) -> Result<Schedule> {
        if let Some(schedule) = *self.pinned.lock() {
            if product.half && !takes_f16(schedule) {
                return Err(crate::Error::Unsupported(format!(
                    "the product schedule {} does not run f16 products; pin one of {}",
                    schedule.name(),
                    self.f16_schedules().join(", ")
                )));
            }
            return Ok(schedule);
        }
        let class = Class::of(product);
        if let Some(&schedule) = self.chosen.lock().get(&class) {
            return Ok(schedule);
        }
        let default = default_schedule(product, self.subgroup);
        if self.mode != Mode::Full {
            return Ok(default);
        }
        // The default's family first: when the budget runs out, the likeliest are timed.
        let mut order = vec![default];
        order.extend(fitting(product, &candidates(self.subgroup)).into_iter().filter(|s| *s != default));
        order.sort_by_key(|s| std::mem::discriminant(s) != std::mem::discriminant(&default));
        let schedule = measure(ctx, product, &order)?;
        self.chosen.lock().insert(class, schedule);
        self.save();
        log::info!("autotune: {} -> {}", class.key(), schedule.name());
        Ok(schedule)
    }

    /// Writes every choice (atomically; failure only costs the next run's tuning).
    fn save(&self) {
        let Some(file) = &self.file else { return };
        let mut text = format!("tessera autotune v{KERNEL_SET_VERSION}\n");
        let mut lines: Vec<String> = self
            .chosen
            .lock()
            .iter()
            .map(|(class, schedule)| format!("{}\t{}\n", class.key(), schedule.name()))
            .collect();
        lines.sort();
        text.extend(lines);
        let written = file.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, file))
        });
        if let Err(e) = written {
            log::debug!("autotune choices not saved to {}: {e}", file.display());
        }
    }
}

/// Times `schedules` for `product` on its own operands, in order, within the budget (each run
/// overwrites the whole output, so whichever runs last leaves a correct result) and returns the
/// fastest.
fn measure(ctx: &Context, product: &Product<'_>, schedules: &[Schedule]) -> Result<Schedule> {
    let started = Instant::now();
    let mut best: Option<(Duration, Schedule)> = None;
    for &schedule in schedules {
        if started.elapsed() > BUDGET && best.is_some() {
            break;
        }
        // Compile and warm up, then time one run from submission to completion.
        let warm_up = Instant::now();
        product.launch(ctx, schedule)?;
        ctx.flush()?;
        ctx.wait()?;
        let warm_up = warm_up.elapsed();
        let start = Instant::now();
        product.launch(ctx, schedule)?;
        ctx.flush()?;
        ctx.wait()?;
        let time = start.elapsed();
        log::debug!(
            "autotune: {}: {time:.2?} (first run {warm_up:.2?})",
            product.variant(schedule).describe()
        );
        if best.is_none_or(|(t, _)| time < t) {
            best = Some((time, schedule));
        }
    }
    Ok(best.map_or(schedules[0], |(_, s)| s))
}

/// The choices a file holds, when it was written by this kernel set.
fn load(file: &Path, subgroup: Option<u32>) -> HashMap<Class, Schedule> {
    let Ok(text) = std::fs::read_to_string(file) else { return HashMap::new() };
    let mut lines = text.lines();
    if lines.next() != Some(&format!("tessera autotune v{KERNEL_SET_VERSION}")) {
        return HashMap::new();
    }
    let by_name: HashMap<String, Schedule> = candidates(subgroup).iter().map(|s| (s.name(), *s)).collect();
    lines
        .filter_map(|line| {
            let (key, schedule) = line.split_once('\t')?;
            Some((Class::parse(key)?, *by_name.get(schedule)?))
        })
        .collect()
}

/// Every variant a product may run as, for the checks that validate them all.
#[cfg(test)]
pub(crate) fn every_variant() -> Vec<super::Variant> {
    use super::Variant;
    let kinds = [Kind::Matrix, Kind::ConvForward, Kind::ConvKernelGrad, Kind::ConvInputGrad];
    let mut all = Vec::new();
    let schedules: Vec<Schedule> =
        [8, 16, 32, 64].into_iter().flat_map(|size| candidates(Some(size))).collect();
    let mut schedules_once = schedules.clone();
    schedules_once.sort_by_key(|s| s.name());
    schedules_once.dedup();
    for kind in kinds {
        for &schedule in &schedules_once {
            for (gate_a, gate_b) in [(false, false), (true, false), (false, true)] {
                for column_sums in [false, true] {
                    for aligned in [false, true] {
                        for half in [false, true] {
                            all.push(Variant { kind, schedule, gate_a, gate_b, column_sums, aligned, half });
                        }
                    }
                }
            }
        }
    }
    all
}
