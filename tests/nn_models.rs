//! Models: Sequential and functional construction, equivalence of the two, a skip connection
//! and a two-input model, removing the head and adding a new one, freezing, automatic names,
//! deferred building and the errors users can run into.

mod common;

use common::{assert_close, rand};
use tessera::nn::{
    Activation, Add, Apply, Concatenate, Conv2D, Dense, Dropout, Flatten, ForwardCtx, Input, MaxPooling2D,
    Model, NnError, SymbolicTensor,
};
use tessera::{DType, Device, Tape, Tensor};

fn predict(model: &Model, inputs: &[Tensor]) -> Vec<f64> {
    model.forward(inputs, &mut ForwardCtx::inference()).unwrap().to_vec_f64().unwrap()
}

fn f32_batch(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), -1.0, 1.0, seed, DType::F32, &Device::Cpu).unwrap()
}

fn input(shape: &[usize]) -> SymbolicTensor {
    Input::new(shape).symbolic().unwrap()
}

#[test]
fn sequential_and_functional_models_agree() {
    let sequential = Model::sequential(vec![
        Box::new(Conv2D::new(4, 3).input_shape(&[6, 6, 2]).activation("relu")),
        Box::new(MaxPooling2D::new()),
        Box::new(Flatten::new()),
        Box::new(Dropout::new(0.5)),
        Box::new(Dense::new(3).activation(Activation::Softmax)),
    ])
    .unwrap();
    let x = input(&[6, 6, 2]);
    let mut h = Conv2D::new(4, 3).activation("relu").apply(&[&x]).unwrap();
    h = MaxPooling2D::new().apply(&[&h]).unwrap();
    h = Flatten::new().apply(&[&h]).unwrap();
    h = Dropout::new(0.5).apply(&[&h]).unwrap();
    let y = Dense::new(3).activation("softmax").apply(&[&h]).unwrap();
    let functional = Model::functional(&[&x], &y).unwrap();

    assert_eq!((sequential.name(), functional.name()), ("sequential", "functional"));
    assert_eq!(functional.layers().len(), sequential.layers().len() + 1, "the functional input is a layer");
    assert_eq!(functional.input_shapes(), sequential.input_shapes());
    assert_eq!(functional.output_shape(), vec![3]);
    assert_eq!(functional.count_params(), sequential.count_params());
    for (a, b) in sequential.weights().iter().zip(functional.weights()) {
        b.assign(a.value()).unwrap();
    }
    // The same ops on the same values in the same order: identical results.
    let batch = f32_batch(&[5, 6, 6, 2], 4);
    let out = predict(&sequential, std::slice::from_ref(&batch));
    assert_eq!(out.len(), 15);
    assert_eq!(out, predict(&functional, &[batch]));
    // Softmax rows sum to one (f32 round-off: 1e-6).
    for row in out.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn skip_connection_adds_a_block_input_to_its_output() {
    let x = input(&[6]);
    let h = Dense::new(6).activation("tanh").apply(&[&x]).unwrap();
    let sum = Add::new().apply(&[&x, &h]).unwrap();
    let y = Dense::new(2).apply(&[&sum]).unwrap();
    let model = Model::functional(&[&x], &y).unwrap();
    assert_eq!(model.count_params(), (6 * 6 + 6 + 6 * 2 + 2, 0));
    let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    assert_eq!(names, ["input_layer", "dense", "add", "dense_1"]);

    let batch = f32_batch(&[5, 6], 1);
    let w: Vec<Tensor> = model.weights().iter().map(|w| w.value().clone()).collect();
    let block = batch.matmul(&w[0]).unwrap().add(&w[1]).unwrap().tanh().unwrap();
    let expected = batch.add(&block).unwrap().matmul(&w[2]).unwrap().add(&w[3]).unwrap();
    let out = predict(&model, std::slice::from_ref(&batch));
    // The same ops as the model runs: equal up to f32 round-off (1e-6).
    assert_close(&out, &expected.to_vec_f64().unwrap(), 1e-6);
}

/// The functional skip-connection model's summary, as Keras 3 prints a graph: a "Connected to"
/// column, cells wrapped and cut to the column.
const SKIP_SUMMARY: &str = "\
Model: \"functional\"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ input_layer         │ (None, 6)         │          0 │ -                 │
│ (InputLayer)        │                   │            │                   │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense (Dense)       │ (None, 6)         │         42 │ input_layer[0][0] │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (Add)           │ (None, 6)         │          0 │ input_layer[0][0… │
│                     │                   │            │ dense[0][0]       │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ dense_1 (Dense)     │ (None, 2)         │         14 │ add[0][0]         │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 56 (224.00 B)
 Trainable params: 56 (224.00 B)
 Non-trainable params: 0 (0.00 B)
";

#[test]
fn graph_summaries_show_connections() {
    let x = input(&[6]);
    let h = Dense::new(6).apply(&[&x]).unwrap();
    let sum = Add::new().apply(&[&x, &h]).unwrap();
    let y = Dense::new(2).apply(&[&sum]).unwrap();
    assert_eq!(Model::functional(&[&x], &y).unwrap().summary(), SKIP_SUMMARY);
}

#[test]
fn two_input_model_runs_and_counts() {
    let (a, b) = (input(&[3]), input(&[4, 2]));
    let fa = Dense::new(5).activation("relu").apply(&[&a]).unwrap();
    let fb = Flatten::new().apply(&[&b]).unwrap();
    let joined = Concatenate::new().apply(&[&fa, &fb]).unwrap();
    assert_eq!(joined.shape(), [13]);
    let y = Dense::new(2).activation("sigmoid").apply(&[&joined]).unwrap();
    let model = Model::functional(&[&a, &b], &y).unwrap();
    assert_eq!(model.input_shapes(), vec![vec![3], vec![4, 2]]);
    assert_eq!(model.output_shape(), vec![2]);
    assert_eq!(model.count_params(), (3 * 5 + 5 + 13 * 2 + 2, 0));
    let out = model
        .forward(&[f32_batch(&[7, 3], 1), f32_batch(&[7, 4, 2], 2)], &mut ForwardCtx::inference())
        .unwrap();
    assert_eq!(out.dims(), [7, 2]);

    // Inputs in the wrong order or number, or of the wrong shape, are data errors naming both shapes.
    let swapped =
        model.forward(&[f32_batch(&[7, 4, 2], 2), f32_batch(&[7, 3], 1)], &mut ForwardCtx::inference());
    let message = match swapped {
        Err(NnError::Data(message)) => message,
        other => panic!("expected a data error, got {other:?}"),
    };
    assert!(message.contains("(None, 3)") && message.contains("(7, 4, 2)"), "{message}");
    assert!(matches!(
        model.forward(&[f32_batch(&[7, 3], 1)], &mut ForwardCtx::inference()),
        Err(NnError::Data(_))
    ));
}

#[test]
fn pop_removes_the_head_and_add_puts_on_a_new_one() {
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(8).input_shape(&[4]).activation("relu")),
        Box::new(Dense::new(6).activation("relu")),
        Box::new(Dense::new(3).activation("softmax")),
    ])
    .unwrap();
    let kept: Vec<Vec<f64>> = model.weights()[..4].iter().map(|w| w.value().to_vec_f64().unwrap()).collect();
    let head = model.pop().unwrap();
    assert_eq!((head.name(), head.weights().len()), ("dense_2", 2));
    assert_eq!(model.output_shape(), vec![6]);
    model.layers_mut().into_iter().for_each(|l| l.set_trainable(false));
    model.add(Dense::new(5).activation("softmax")).unwrap();
    let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    assert_eq!(names, ["dense", "dense_1", "dense_2"]);
    assert_eq!(model.output_shape(), vec![5]);
    assert_eq!(model.count_params(), (6 * 5 + 5, 4 * 8 + 8 + 8 * 6 + 6));
    // The base keeps its trained weights.
    let base: Vec<Vec<f64>> = model.weights()[..4].iter().map(|w| w.value().to_vec_f64().unwrap()).collect();
    assert_eq!(base, kept);
    assert_eq!(model.forward(&[f32_batch(&[2, 4], 3)], &mut ForwardCtx::inference()).unwrap().dims(), [2, 5]);

    // The popped head moves, weights and all, onto another base of the right shape.
    let mut other = Model::sequential(vec![Box::new(Dense::new(6).input_shape(&[2]))]).unwrap();
    other.add_boxed(head).unwrap();
    assert_eq!(other.output_shape(), vec![3]);
    assert!(other.pop().is_ok() && other.pop().is_ok());
    assert!(matches!(other.pop(), Err(NnError::Usage(_))));
}

#[test]
fn frozen_weights_get_no_gradient() {
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(4).input_shape(&[3]).activation("tanh")),
        Box::new(Dense::new(2)),
    ])
    .unwrap();
    model.layer_mut("dense").unwrap().set_trainable(false);
    assert_eq!(model.count_params(), (10, 16));
    assert_eq!(model.trainable_weights().len(), 2);
    assert!(model.summary().contains(" Non-trainable params: 16 (64.00 B)\n"));

    let tape = Tape::new();
    let mut ctx = ForwardCtx::training(&tape, 0);
    let loss =
        model.forward(&[f32_batch(&[5, 3], 2)], &mut ctx).unwrap().square().unwrap().sum_all().unwrap();
    let grads = tape.backward(&loss).unwrap();
    let weights = model.weights();
    assert!(weights[..2].iter().all(|w| ctx.gradient(&grads, w).is_none()), "frozen layer got a gradient");
    assert!(weights[2..].iter().all(|w| ctx.gradient(&grads, w).is_some()));
}

#[test]
fn names_are_unique_per_model() {
    let model = Model::sequential(vec![
        Box::new(Conv2D::new(2, 3).input_shape(&[8, 8, 1])),
        Box::new(Conv2D::new(2, 3).named("features")),
        Box::new(Conv2D::new(2, 3)),
        Box::new(Flatten::new()),
        Box::new(Dense::new(2)),
    ])
    .unwrap();
    let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    assert_eq!(names, ["conv2d", "features", "conv2d_1", "flatten", "dense"]);
    assert!(model.layer("features").is_some() && model.layer("conv2d_2").is_none());
    let duplicate = Model::sequential(vec![
        Box::new(Dense::new(2).input_shape(&[2]).named("same")),
        Box::new(Dense::new(2).named("same")),
    ]);
    assert!(matches!(duplicate, Err(NnError::Layer { .. })));
}

#[test]
fn impossible_stacks_name_the_layer_and_shapes() {
    let stack =
        Model::sequential(vec![Box::new(Dense::new(4).input_shape(&[10])), Box::new(Conv2D::new(2, 3))]);
    let message = match stack {
        Err(e @ NnError::Layer { .. }) => e.to_string(),
        other => panic!("expected a layer error, got {:?}", other.map(|m| m.summary())),
    };
    assert!(message.starts_with("layer conv2d:") && message.contains("(None, 4)"), "{message}");
    let mut model = Model::sequential(vec![Box::new(Input::new(&[4, 4, 1]))]).unwrap();
    assert!(model.add(Conv2D::new(1, 5)).is_err());
    assert_eq!(model.layers().len(), 0, "a failed add leaves the model as it was");
    assert!(model.add(Input::new(&[3])).is_err());
}

#[test]
fn a_sequential_model_without_input_shape_builds_later() {
    let mut model = Model::sequential(vec![Box::new(Dense::new(4)), Box::new(Dense::new(2))]).unwrap();
    assert!(!model.is_built());
    assert!(
        model
            .summary()
            .contains("│ dense (Dense)                   │ ?                      │   0 (unbuilt) │")
    );
    assert!(matches!(
        model.forward(&[f32_batch(&[1, 3], 0)], &mut ForwardCtx::inference()),
        Err(NnError::Usage(_))
    ));
    model.build(&[vec![3]]).unwrap();
    assert_eq!((model.input_shapes(), model.output_shape()), (vec![vec![3]], vec![2]));
    assert_eq!(model.count_params(), (3 * 4 + 4 + 4 * 2 + 2, 0));
    assert_eq!(model.forward(&[f32_batch(&[6, 3], 0)], &mut ForwardCtx::inference()).unwrap().dims(), [6, 2]);
    assert!(model.build(&[vec![3]]).is_ok() && model.build(&[vec![5]]).is_err());
    model.add(Dense::new(7)).unwrap();
    assert_eq!(model.output_shape(), vec![7]);
}

#[test]
fn functional_graphs_are_checked() {
    let (a, b) = (input(&[2]), input(&[2]));
    let sum = Add::new().apply(&[&a, &b]).unwrap();
    // An input the output needs but the model does not list.
    assert!(matches!(Model::functional(&[&a], &sum), Err(NnError::Usage(_))));
    // A non-input listed as an input.
    assert!(matches!(Model::functional(&[&sum], &sum), Err(NnError::Usage(_))));
    // An input the output does not use.
    let c = input(&[2]);
    assert!(matches!(Model::functional(&[&a, &b, &c], &sum), Err(NnError::Usage(_))));
    let model = Model::functional(&[&a, &b], &sum).unwrap();
    assert_eq!(model.layers().len(), 3);
    // The layers moved into that model; the same graph cannot make a second one.
    assert!(matches!(Model::functional(&[&a, &b], &sum), Err(NnError::Usage(_))));
    let mut model = model;
    assert!(model.add(Dense::new(2)).is_err() && model.pop().is_err());
}

#[test]
fn regularization_losses_add_up_over_layers() {
    let model = Model::sequential(vec![
        Box::new(Dense::new(3).input_shape(&[2]).kernel_regularizer("l1")),
        Box::new(Dense::new(2)),
        Box::new(Dense::new(1).kernel_regularizer("l2")),
    ])
    .unwrap();
    let w = model.weights();
    let abs: f64 = w[0].value().to_vec_f64().unwrap().iter().map(|v| v.abs()).sum();
    let sq: f64 = w[4].value().to_vec_f64().unwrap().iter().map(|v| v * v).sum();
    let total = model.regularization_loss(&mut ForwardCtx::inference()).unwrap().unwrap().item().unwrap();
    // f32 sums: relative tolerance 1e-6.
    let expected = 0.01 * abs + 0.01 * sq;
    assert!((total - expected).abs() <= 1e-6 * expected, "{total} vs {expected}");
    let plain = Model::sequential(vec![Box::new(Dense::new(1).input_shape(&[2]))]).unwrap();
    assert!(plain.regularization_loss(&mut ForwardCtx::inference()).unwrap().is_none());
}

#[test]
fn models_move_between_devices_and_dtypes_follow_layers() {
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(3).input_shape(&[2]).dtype(DType::F64)),
        Box::new(Dense::new(1).dtype(DType::F64)),
    ])
    .unwrap();
    model.to_device(&Device::Cpu).unwrap();
    assert_eq!(model.device(), &Device::Cpu);
    assert!(model.weights().iter().all(|w| w.value().dtype() == DType::F64));
    assert_eq!(predict(&model, &[rand(&[4, 2], 1)]).len(), 4);
    let message =
        model.forward(&[f32_batch(&[4, 2], 1)], &mut ForwardCtx::inference()).unwrap_err().to_string();
    assert!(message.starts_with("layer dense:") && message.contains("f64"), "{message}");
}
