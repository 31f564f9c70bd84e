//! Hostile input to the tensor API: shapes that do not fit, bad axes, dtypes and devices that do
//! not mix, invalid labels, NaN and infinities. Each case must end in an error that names the op
//! and the problem, or in the correct result — the same on the GPU as on the CPU reference, with
//! NaN and infinities propagated as NumPy and Keras do. The counts are printed per suite.

mod common;

use common::hostile::Suite;
use tessera::tensor_core::Padding;
use tessera::{DType, Device, Tensor};

fn cpu(values: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape.to_vec(), &Device::Cpu).unwrap()
}

fn rand(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), -1.0, 1.0, seed, DType::F32, &Device::Cpu).unwrap()
}

/// `None` when `got` equals `expected` bit for bit as f64 (NaN matching NaN), else why not.
fn same(got: &[f64], expected: &[f64]) -> Option<String> {
    let equal = got.len() == expected.len()
        && got.iter().zip(expected).all(|(g, e)| g == e || (g.is_nan() && e.is_nan()));
    (!equal).then(|| format!("got {got:?}, expected {expected:?}"))
}

#[test]
fn shapes_and_axes_that_do_not_fit() {
    let mut suite = Suite::new("shapes and axes");
    suite.error("add (2, 3) + (4,)", &["add", "(2, 3)", "(4"], || rand(&[2, 3], 1).add(&rand(&[4], 2)));
    suite.error("matmul (2, 3) x (4, 5)", &["matmul", "3", "4"], || {
        rand(&[2, 3], 1).matmul(&rand(&[4, 5], 2))
    });
    suite.error("matmul of a vector", &["matmul"], || rand(&[3], 1).matmul(&rand(&[3, 2], 2)));
    suite.error("reshape 6 values to (4,)", &["reshape", "6"], || rand(&[2, 3], 1).reshape([4]));
    suite.error("sum over axis 5 of a matrix", &["sum", "5"], || rand(&[2, 3], 1).sum(&[5], false));
    suite.error("sum over axis -3 of a matrix", &["sum", "-3"], || rand(&[2, 3], 1).sum(&[-3], false));
    suite.error("softmax over axis 2 of a matrix", &["softmax", "2"], || rand(&[2, 3], 1).softmax(2));
    suite.error("argmax over an empty axis", &["argmax"], || rand(&[2, 0], 1).argmax(1));
    suite.error("concat (2, 3) with (2, 4) on axis 0", &["concat"], || {
        Tensor::concat(&[&rand(&[2, 3], 1), &rand(&[2, 4], 2)], 0)
    });
    suite.error("concat of nothing", &["concat"], || Tensor::concat(&[], 0));
    suite.error("slice past the end", &["slice", "5"], || rand(&[3, 2], 1).slice(0, 1, 5));
    suite.error("slice backwards", &["slice"], || rand(&[3, 2], 1).slice(0, 2, 1));
    suite.error("permute with a repeated axis", &["permute"], || rand(&[2, 3], 1).permute(&[0, 0]));
    suite.error("permute with too few axes", &["permute"], || rand(&[2, 3, 4], 1).permute(&[1, 0]));
    suite.error("from_vec of 5 values as (2, 3)", &["5", "(2, 3)"], || {
        Tensor::from_vec(vec![1.0f32; 5], [2, 3], &Device::Cpu)
    });
    suite.error("gather row 9 of 3", &["gather_rows", "9"], || rand(&[3, 2], 1).gather_rows(&[0, 9]));
    suite.error("scatter_add with 2 indices for 3 rows", &["scatter_add_rows"], || {
        rand(&[3, 2], 1).scatter_add_rows(&[0, 1], 4)
    });
    suite.error("scatter_add into row 4 of 4", &["scatter_add_rows", "4"], || {
        rand(&[2, 2], 1).scatter_add_rows(&[0, 4], 4)
    });
    suite.error("conv2d of a rank-3 input", &["conv2d"], || {
        rand(&[5, 5, 1], 1).conv2d(&rand(&[3, 3, 1, 2], 2), (1, 1), Padding::Valid)
    });
    suite.error("conv2d with 2 input channels for a 1-channel kernel", &["conv2d", "channel"], || {
        rand(&[1, 5, 5, 2], 1).conv2d(&rand(&[3, 3, 1, 2], 2), (1, 1), Padding::Valid)
    });
    suite.error("conv2d with a zero stride", &["conv2d", "stride"], || {
        rand(&[1, 5, 5, 1], 1).conv2d(&rand(&[3, 3, 1, 2], 2), (0, 1), Padding::Valid)
    });
    suite.error("conv2d kernel larger than a valid input", &["conv2d"], || {
        rand(&[1, 2, 2, 1], 1).conv2d(&rand(&[3, 3, 1, 2], 2), (1, 1), Padding::Valid)
    });
    suite.error("max_pool2d with a zero window", &["max_pool2d"], || {
        rand(&[1, 4, 4, 1], 1).max_pool2d((0, 2), (1, 1), Padding::Valid)
    });
    suite.error("batch_norm with 3 gammas for 2 channels", &["batch_norm", "gamma"], || {
        rand(&[4, 2], 1).batch_norm_train(&rand(&[3], 2), &rand(&[2], 3), -1, 1e-3)
    });
    suite.error("batch_norm with a negative epsilon", &["batch_norm", "epsilon"], || {
        rand(&[4, 2], 1).batch_norm_train(&rand(&[2], 2), &rand(&[2], 3), -1, -1.0)
    });
    suite.error("dropout at rate 1.5", &["dropout", "1.5"], || rand(&[4], 1).dropout(1.5, 7));
    suite.error("item of a vector", &["item"], || rand(&[2], 1).item());
    // Operands of a few MiB whose outputs would take 4 TiB: refused before anything is allocated.
    let tall = || rand(&[1 << 20, 1], 1);
    let wide = || rand(&[1, 1 << 20], 2);
    suite.error("matmul (2^20, 1) x (1, 2^20)", &["matmul", "(1048576, 1048576)"], move || {
        tall().matmul(&wide())
    });
    suite.error("add (2^20, 1) + (1, 2^20)", &["add", "(1048576, 1048576)"], move || tall().add(&wide()));
    suite.error("gather row 0 of (1, 2^20) 2^20 times", &["gather_rows"], move || {
        wide().gather_rows(&vec![0; 1 << 20])
    });
    suite.error("pad (1, 2^20) by 2^20 rows", &["pad_axis"], move || wide().pad_axis(0, 0, 1 << 20));
    suite.correct("sum of an empty tensor", || {
        let v = rand(&[0, 3], 1).sum(&[0], false)?.to_vec_f64()?;
        Ok::<_, tessera::Error>(same(&v, &[0.0, 0.0, 0.0]))
    });
    suite.correct("mean over an empty axis is NaN", || {
        let v = rand(&[2, 0], 1).mean(&[1], false)?.to_vec_f64()?;
        Ok::<_, tessera::Error>((!v.iter().all(|x| x.is_nan())).then(|| format!("{v:?}")))
    });
    suite.finish();
}

#[test]
fn dtypes_and_labels() {
    let mut suite = Suite::new("dtypes and labels");
    let f64s = || Tensor::from_vec(vec![1.0f64, 2.0], [2], &Device::Cpu).unwrap();
    suite.error("add f32 + f64", &["add", "f32", "f64"], move || rand(&[2], 1).add(&f64s()));
    suite.error("matmul f32 x f64", &["matmul"], move || {
        rand(&[1, 2], 1).matmul(&Tensor::from_vec(vec![1.0f64, 2.0], [2, 1], &Device::Cpu).unwrap())
    });
    suite.error("to_vec::<f64> of an f32 tensor", &["f32", "f64"], || rand(&[2], 1).to_vec::<f64>());
    let logits = || rand(&[2, 3], 1);
    suite.error("sparse label 3 of 3 classes", &["3"], move || {
        logits().sparse_softmax_cross_entropy(&cpu(&[0.0, 3.0], &[2]))
    });
    suite.error("sparse label -1", &["-1"], move || {
        logits().sparse_softmax_cross_entropy(&cpu(&[-1.0, 0.0], &[2]))
    });
    suite.error("sparse label 1.5", &["1.5"], move || {
        logits().sparse_softmax_cross_entropy(&cpu(&[1.5, 0.0], &[2]))
    });
    suite.error("sparse label NaN", &["nan"], move || {
        logits().sparse_softmax_cross_entropy(&cpu(&[f32::NAN, 0.0], &[2]))
    });
    suite.error("3 sparse labels for 2 rows", &["sparse_softmax_cross_entropy"], move || {
        logits().sparse_softmax_cross_entropy(&cpu(&[0.0, 1.0, 2.0], &[3]))
    });
    suite.error("dense labels (2, 4) for logits (2, 3)", &["softmax_cross_entropy"], move || {
        logits().softmax_cross_entropy(&rand(&[2, 4], 2))
    });
    suite.error("cross-entropy of rank-3 logits", &["softmax_cross_entropy"], || {
        rand(&[2, 3, 4], 1).softmax_cross_entropy(&rand(&[2, 3, 4], 2))
    });
    suite.finish();
}

/// NaN and infinities on the CPU, and the same values through the GPU when there is one: both
/// must propagate NaN as NumPy and Keras do, and agree bit for bit on where it lands.
#[test]
fn nan_and_infinities() {
    let mut suite = Suite::new("NaN and infinities");
    let devices: Vec<Device> = std::iter::once(Device::Cpu).chain(common::gpu()).collect();
    let special =
        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1.0, -2.0, f32::MAX, f32::MIN_POSITIVE];
    let x = move || cpu(&special, &[special.len()]);
    let plain = |f: fn(f32) -> f32| special.iter().map(|&v| f(v) as f64).collect::<Vec<f64>>();
    type Op = fn(&Tensor) -> tessera::Result<Tensor>;
    let elementwise: [(&str, Op, Vec<f64>); 6] = [
        ("relu", |t| t.relu(), plain(|v| if v.is_nan() { v } else { v.max(0.0) })),
        ("abs", |t| t.abs(), plain(f32::abs)),
        ("neg", |t| t.neg(), plain(|v| -v)),
        ("square", |t| t.square(), plain(|v| v * v)),
        ("clip", |t| t.clip(-1.0, 1.0), plain(|v| if v.is_nan() { v } else { v.clamp(-1.0, 1.0) })),
        ("add itself", |t| t.add(t), plain(|v| v + v)),
    ];
    for device in &devices {
        for (name, op, expected) in &elementwise {
            let (device, op, expected) = (device.clone(), *op, expected.clone());
            suite.correct(&format!("{name} of NaN and infinities on {device}"), move || {
                let got = op(&x().to(&device)?)?.to_vec_f64()?;
                Ok::<_, tessera::Error>(same(&got, &expected))
            });
        }
        let reductions: [(&str, Op, Vec<f64>); 4] = [
            ("max with a NaN", |t| t.max(&[0], false), vec![f64::NAN]),
            ("sum with +inf and -inf", |t| t.slice(0, 1, 3)?.sum(&[0], false), vec![f64::NAN]),
            ("sum with +inf", |t| t.slice(0, 1, 2)?.sum(&[0], false), vec![f64::INFINITY]),
            ("argmax with a NaN", |t| t.argmax(0), vec![0.0]),
        ];
        for (name, op, expected) in reductions {
            let device = device.clone();
            suite.correct(&format!("{name} on {device}"), move || {
                let got = op(&x().to(&device)?)?.to_vec_f64()?;
                Ok::<_, tessera::Error>(same(&got, &expected))
            });
        }
        let device_ = device.clone();
        suite.correct(&format!("softmax of a row with +inf on {device}"), move || {
            // exp(inf - inf) is NaN: the row is NaN, not a silent one-hot.
            let got = cpu(&[1.0, f32::INFINITY, 2.0], &[1, 3]).to(&device_)?.softmax(1)?.to_vec_f64()?;
            Ok::<_, tessera::Error>((!got.iter().any(|v| v.is_nan())).then(|| format!("{got:?}")))
        });
        let device_ = device.clone();
        suite.correct(&format!("softmax of huge finite logits on {device}"), move || {
            let got = cpu(&[f32::MAX, 0.0, -f32::MAX], &[1, 3]).to(&device_)?.softmax(1)?.to_vec_f64()?;
            Ok::<_, tessera::Error>(same(&got, &[1.0, 0.0, 0.0]))
        });
        let device_ = device.clone();
        suite.correct(&format!("cross-entropy of a NaN logit on {device}"), move || {
            let logits = cpu(&[f32::NAN, 0.0, 1.0, 0.0], &[2, 2]).to(&device_)?;
            let loss =
                logits.sparse_softmax_cross_entropy(&cpu(&[0.0, 1.0], &[2]).to(&device_)?)?.to_vec_f64()?;
            Ok::<_, tessera::Error>((!(loss[0].is_nan() && loss[1].is_finite())).then(|| format!("{loss:?}")))
        });
        let device_ = device.clone();
        suite.correct(&format!("max_pool2d over a NaN on {device}"), move || {
            let images = cpu(&[1.0, f32::NAN, 3.0, 4.0], &[1, 2, 2, 1]).to(&device_)?;
            let got = images.max_pool2d((2, 2), (2, 2), Padding::Valid)?.to_vec_f64()?;
            Ok::<_, tessera::Error>((!got[0].is_nan()).then(|| format!("{got:?}")))
        });
    }
    if let Some(gpu) = devices.get(1).cloned() {
        suite.error("add of a CPU and a GPU tensor", &["add", "different devices"], move || {
            rand(&[2], 1).add(&rand(&[2], 2).to(&gpu)?)
        });
    }
    suite.finish();
}
