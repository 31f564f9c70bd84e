//! Functional graphs as Keras has them: several outputs, a layer shared between two places, a
//! trained model's graph giving sub-models and new heads while it stays whole, a model nested in
//! another as one layer (shared or not, frozen or not), and all of these through their configs
//! and model files.

mod common;

use common::{assert_close, rand};
use tessera::nn::io::{load_model, save_model};
use tessera::nn::{
    Add, Apply, BatchNormalization, Concatenate, Dense, FitOptions, Flatten, ForwardCtx, Input, Model,
    NnError, SharedLayer, SymbolicTensor,
};
use tessera::{DType, Device, Tensor};

fn input(shape: &[usize]) -> SymbolicTensor {
    Input::new(shape).symbolic().unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

fn batch(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape.to_vec(), -1.0, 1.0, seed, DType::F32, &Device::Cpu).unwrap()
}

/// Input(5) → Dense "hidden"(4, relu) → BatchNormalization "norm" → Dense "head"(3, softmax).
fn classifier() -> Model {
    let x = input(&[5]);
    let h = Dense::new(4).activation("relu").named("hidden").apply(&[&x]).unwrap();
    let n = BatchNormalization::new().named("norm").apply(&[&h]).unwrap();
    let y = Dense::new(3).activation("softmax").named("head").apply(&[&n]).unwrap();
    Model::functional(&[&x], &y).unwrap()
}

/// The weights of `model` as plain numbers, in order.
fn weight_values(model: &Model) -> Vec<Vec<f64>> {
    model.get_weights().unwrap().iter().map(values).collect()
}

/// `x · kernel + bias` for a Dense layer without activation, computed on the host.
fn dense_by_hand(x: &[f64], rows: usize, kernel: &[f64], bias: &[f64]) -> Vec<f64> {
    let (n_in, n_out) = (kernel.len() / bias.len(), bias.len());
    let mut out = vec![0.0; rows * n_out];
    for r in 0..rows {
        for o in 0..n_out {
            out[r * n_out + o] =
                bias[o] + (0..n_in).map(|i| x[r * n_in + i] * kernel[i * n_out + o]).sum::<f64>();
        }
    }
    out
}

#[test]
fn a_model_gives_several_outputs() {
    let x = input(&[3]);
    let h = Dense::new(4).named("trunk").apply(&[&x]).unwrap();
    let a = Dense::new(2).named("left").apply(&[&h]).unwrap();
    let b = Dense::new(1).named("right").apply(&[&h]).unwrap();
    let model = Model::functional(&[&x], &[&a, &h, &b]).unwrap();
    assert_eq!(model.output_shapes(), vec![vec![2], vec![4], vec![1]]);
    let xs = batch(&[5, 3], 1);
    let outputs = model.forward_all(std::slice::from_ref(&xs), &mut ForwardCtx::inference()).unwrap();
    let weights = model.get_weights().unwrap();
    let hidden = dense_by_hand(&values(&xs), 5, &values(&weights[0]), &values(&weights[1]));
    let left = dense_by_hand(&hidden, 5, &values(&weights[2]), &values(&weights[3]));
    let right = dense_by_hand(&hidden, 5, &values(&weights[4]), &values(&weights[5]));
    // f32 products of 3 and 4 terms against f64 sums: 1e-5 absolute.
    assert_close(&values(&outputs[0]), &left, 1e-5);
    assert_close(&values(&outputs[1]), &hidden, 1e-5);
    assert_close(&values(&outputs[2]), &right, 1e-5);
    // predict_all batches the same way; the one-output calls say which call to use instead.
    let predicted = model.predict_all(&xs, 2).unwrap();
    for (p, o) in predicted.iter().zip(&outputs) {
        assert_close(&values(p), &values(o), 1e-6);
    }
    let single = model.forward(std::slice::from_ref(&xs), &mut ForwardCtx::inference());
    assert!(matches!(single, Err(NnError::Usage(m)) if m.contains("forward_all")));
    assert!(matches!(model.predict(&xs, 2), Err(NnError::Usage(m)) if m.contains("predict_all")));
    // One loss trains every output (tests/nn_multi_output.rs trains such models); a flat list of
    // metrics is for a model of one output, as in Keras.
    let mut model = model;
    assert!(
        matches!(model.compile("sgd", "mse", &["mae"]), Err(NnError::Usage(m)) if m.contains("3 outputs"))
    );
    model.compile("sgd", "mse", &[]).unwrap();
    assert_eq!(model.metrics_names(), ["left_loss", "loss", "right_loss", "trunk_loss"]);
}

#[test]
fn a_layer_applied_twice_shares_its_weights() {
    let (a, b) = (input(&[4]), input(&[4]));
    let encoder = SharedLayer::new(Dense::new(3).named("encoder"));
    let (ea, eb) = (encoder.apply(&[&a]).unwrap(), encoder.apply(&[&b]).unwrap());
    let joined = Add::new().apply(&[&ea, &eb]).unwrap();
    let mut model = Model::functional(&[&a, &b], &joined).unwrap();
    // One layer, its weights once, two places in the graph.
    assert_eq!(model.layers().iter().filter(|l| l.name() == "encoder").count(), 1);
    assert_eq!(model.count_params(), (4 * 3 + 3, 0));
    assert!(model.summary().contains("encoder[1][0]"), "{}", model.summary());
    // Applied to shapes other than those it was built for, it says so.
    let c = input(&[5]);
    assert!(matches!(encoder.apply(&[&c]), Err(NnError::Layer { .. })));
    // (x₁W + b) + (x₂W + b): the gradient with respect to W is x₁ᵀg + x₂ᵀg, the sum over both
    // places, and with respect to b twice the column sums of g.
    model.compile("sgd", "mse", &[]).unwrap();
    let (x1, x2, y) = (batch(&[6, 4], 2), batch(&[6, 4], 3), batch(&[6, 3], 4));
    let gradients = model.gradients(vec![x1.clone(), x2.clone()], &y).unwrap();
    let w = model.get_weights().unwrap();
    let out: Vec<f64> = dense_by_hand(&values(&x1), 6, &values(&w[0]), &values(&w[1]))
        .iter()
        .zip(dense_by_hand(&values(&x2), 6, &values(&w[0]), &values(&w[1])))
        .map(|(p, q)| p + q)
        .collect();
    // mse = mean over 6×3 of (out − y)²: dL/dout = 2(out − y)/18.
    let g: Vec<f64> = out.iter().zip(values(&y)).map(|(o, t)| 2.0 * (o - t) / 18.0).collect();
    let (v1, v2) = (values(&x1), values(&x2));
    let mut kernel = vec![0.0; 12];
    let mut bias = vec![0.0; 3];
    for r in 0..6 {
        for o in 0..3 {
            for i in 0..4 {
                kernel[i * 3 + o] += (v1[r * 4 + i] + v2[r * 4 + i]) * g[r * 3 + o];
            }
            bias[o] += 2.0 * g[r * 3 + o];
        }
    }
    assert_eq!(
        gradients.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["encoder/kernel", "encoder/bias"]
    );
    // f32 forward and backward against the f64 formula: 1e-5.
    assert_close(&values(&gradients[0].1), &kernel, 1e-5);
    assert_close(&values(&gradients[1].1), &bias, 1e-5);
}

#[test]
fn a_sub_model_shows_a_trained_model_inside_and_leaves_it_whole() {
    let mut model = classifier();
    model.compile("adam", "sparse_categorical_crossentropy", &[]).unwrap();
    let xs = rand(&[16, 5], 5);
    let ys =
        Tensor::from_vec((0..16).map(|i| (i % 3) as f32).collect::<Vec<f32>>(), [16], &Device::Cpu).unwrap();
    model.fit(&xs, &ys, FitOptions::default().epochs(2).batch_size(8).verbose(0)).unwrap();
    let before = weight_values(&model);
    let predictions = values(&model.predict(&xs, 16).unwrap());

    let graph = model.graph().unwrap();
    let features =
        Model::functional(&[&graph.input().unwrap()], &graph.layer_output("hidden").unwrap()).unwrap();
    assert_eq!(features.layers().iter().map(|l| l.name()).collect::<Vec<_>>()[1..], ["hidden"]);
    // The feature map is relu(x · kernel + bias) with the trained weights.
    let w = model.get_layer("hidden").unwrap().get_weights().unwrap();
    let expected: Vec<f64> =
        dense_by_hand(&values(&xs), 16, &values(&w[0]), &values(&w[1])).iter().map(|v| v.max(0.0)).collect();
    assert_close(&values(&features.predict(&xs, 16).unwrap()), &expected, 1e-5);
    // The model is whole and unchanged.
    assert_eq!(model.layers().len(), 4);
    assert_eq!(weight_values(&model), before);
    assert_eq!(values(&model.predict(&xs, 16).unwrap()), predictions);
    // Several feature maps at once come from one graph; a missing layer is named.
    let both = Model::functional(
        &[&graph.input().unwrap()],
        &[&graph.layer_output("hidden").unwrap(), &graph.layer_output("norm").unwrap()],
    )
    .unwrap();
    assert_eq!(both.output_shapes(), vec![vec![4], vec![4]]);
    assert!(matches!(graph.layer_output("conv"), Err(NnError::Usage(m)) if m.contains("hidden")));
    // The sub-model holds the model's weights themselves: training the model moves its features.
    model.fit(&xs, &ys, FitOptions::default().epochs(1).batch_size(8).verbose(0)).unwrap();
    let w = model.get_layer("hidden").unwrap().get_weights().unwrap();
    let expected: Vec<f64> =
        dense_by_hand(&values(&xs), 16, &values(&w[0]), &values(&w[1])).iter().map(|v| v.max(0.0)).collect();
    assert_close(&values(&features.predict(&xs, 16).unwrap()), &expected, 1e-5);
}

#[test]
fn a_new_head_trains_on_a_frozen_base_that_stays_whole() {
    let base = classifier();
    let graph = base.graph().unwrap();
    let mut features = graph.layer_output("norm").unwrap();
    features = Dense::new(2).activation("softmax").named("new_head").apply(&[&features]).unwrap();
    let mut model = Model::functional(&[&graph.input().unwrap()], &features).unwrap();
    for name in ["hidden", "norm"] {
        model.layer_mut(name).unwrap().set_trainable(false);
    }
    assert_eq!(model.count_params(), (4 * 2 + 2, 5 * 4 + 4 + 4 * 4));
    let before = weight_values(&base);
    model.compile("adam", "sparse_categorical_crossentropy", &[]).unwrap();
    let xs = rand(&[12, 5], 6);
    let ys =
        Tensor::from_vec((0..12).map(|i| (i % 2) as f32).collect::<Vec<f32>>(), [12], &Device::Cpu).unwrap();
    let head_before = model.get_layer("new_head").unwrap().get_weights().unwrap();
    model.fit(&xs, &ys, FitOptions::default().epochs(2).batch_size(4).verbose(0)).unwrap();
    assert_eq!(weight_values(&base), before, "a frozen base, BatchNormalization's statistics included");
    let head_after = model.get_layer("new_head").unwrap().get_weights().unwrap();
    assert_ne!(values(&head_before[0]), values(&head_after[0]));
    assert_eq!(base.layers().len(), 4);
}

#[test]
fn a_model_nests_in_another_as_one_layer() {
    let mut base = classifier();
    base.set_name("base");
    let x = input(&[5]);
    // Nested by value: the outer model owns it.
    let nested = base.shared().unwrap().apply(&[&x]).unwrap();
    let y = Dense::new(1).named("score").apply(&[&nested]).unwrap();
    let mut outer = Model::functional(&[&x], &y).unwrap();
    let summary = outer.summary();
    assert!(summary.contains("base (Functional)"), "{summary}");
    // Keras's count for the nested row: 5·4+4 + 4·4 (BatchNormalization) + 4·3+3 = 55.
    assert!(summary.lines().any(|l| l.contains("base (Functional)") && l.contains(" 55 ")), "{summary}");
    assert_eq!(outer.count_params(), (24 + 8 + 15 + 3 + 1, 8));
    let xs = batch(&[7, 5], 8);
    // The nested model computes what the base computes, then the score on top.
    let inner = values(&base.predict(&xs, 7).unwrap());
    let score = outer.get_layer("score").unwrap().get_weights().unwrap();
    assert_close(
        &values(&outer.predict(&xs, 7).unwrap()),
        &dense_by_hand(&inner, 7, &values(&score[0]), &values(&score[1])),
        1e-5,
    );

    // Unfrozen, training the outer model trains the base it shares weights with.
    outer.compile("sgd", "mse", &[]).unwrap();
    let ys = batch(&[7, 1], 9);
    let before = weight_values(&base);
    outer.fit(&xs, &ys, FitOptions::default().epochs(1).batch_size(7).verbose(0)).unwrap();
    let after = weight_values(&base);
    assert_ne!(after[0], before[0], "the shared kernel trained");
    // Frozen inside the outer model, it stays as it is.
    outer.layer_mut("base").unwrap().set_trainable(false);
    outer.compile("sgd", "mse", &[]).unwrap();
    outer.fit(&xs, &ys, FitOptions::default().epochs(1).batch_size(7).verbose(0)).unwrap();
    assert_eq!(weight_values(&base), after);

    // The whole thing goes through a model file and predicts the same.
    let dir = std::env::temp_dir().join(format!("tessera-nested-{}", std::process::id()));
    let path = dir.join("nested.tsra");
    save_model(&outer, &path).unwrap();
    let loaded = load_model(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(loaded.get_layer("base").unwrap().class_name(), "Functional");
    assert_eq!(values(&loaded.predict(&xs, 7).unwrap()), values(&outer.predict(&xs, 7).unwrap()));
}

#[test]
fn shared_layers_and_several_outputs_survive_their_config() {
    let (a, b) = (input(&[4]), input(&[4]));
    let shared = SharedLayer::new(Dense::new(3).named("shared"));
    let (sa, sb) = (shared.apply(&[&a]).unwrap(), shared.apply(&[&b]).unwrap());
    let joined = Concatenate::new().apply(&[&sa, &sb]).unwrap();
    let flat = Flatten::new().apply(&[&joined]).unwrap();
    let model = Model::functional(&[&a, &b], &[&flat, &sb]).unwrap();
    let json = model.to_json().unwrap();
    assert!(json.contains(r#"["shared",1,0]"#), "{json}");
    let copy = Model::from_json(&json).unwrap();
    assert_eq!(copy.count_params(), model.count_params());
    assert_eq!(copy.output_shapes(), model.output_shapes());
    assert_eq!(copy.to_json().unwrap(), json);
    copy.set_weights(&model.get_weights().unwrap()).unwrap();
    let xs = vec![batch(&[2, 4], 10), batch(&[2, 4], 11)];
    let (p, q) = (model.predict_all(xs.clone(), 2).unwrap(), copy.predict_all(xs, 2).unwrap());
    for (p, q) in p.iter().zip(&q) {
        assert_eq!(values(p), values(q));
    }
}

#[test]
fn a_config_of_earlier_files_still_reads() {
    let json = r#"{"class_name": "Functional", "config": {"name": "old", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [null, 2]}, "inbound_layers": []},
        {"class_name": "Dense", "config": {"name": "d", "units": 3}, "inbound_layers": ["x"]}],
        "input_layers": ["x"], "output_layers": ["d"]}}"#;
    let model = Model::from_json(json).unwrap();
    assert_eq!(model.output_shape(), vec![3]);
    // A source no layer gives is named, whichever format.
    let broken = json.replace(r#""inbound_layers": ["x"]"#, r#""inbound_nodes": [[["y", 0, 0]]]"#);
    assert!(matches!(Model::from_json(&broken), Err(NnError::Config(m)) if m.contains("\"y\"")));
}

#[test]
fn a_sub_model_of_a_gpu_model_runs_there_on_the_same_weights() {
    let Some(gpu) = common::gpu() else { return };
    let mut model = classifier();
    let xs = batch(&[6, 5], 12);
    let on_cpu = {
        let graph = model.graph().unwrap();
        let features =
            Model::functional(&[&graph.input().unwrap()], &graph.layer_output("hidden").unwrap()).unwrap();
        values(&features.predict(&xs, 6).unwrap())
    };
    model.to_device(&gpu).unwrap();
    let graph = model.graph().unwrap();
    // A new layer on the GPU base joins the base's device.
    let head = Dense::new(2).named("probe").apply(&[&graph.layer_output("hidden").unwrap()]).unwrap();
    let features =
        Model::functional(&[&graph.input().unwrap()], &[&graph.layer_output("hidden").unwrap(), &head])
            .unwrap();
    assert_eq!(features.device(), &gpu);
    assert!(features.weights().iter().all(|w| w.value().device() == &gpu));
    // Products on the GPU against the CPU: 1e-5.
    assert_close(&values(&features.predict_all(&xs, 6).unwrap()[0]), &on_cpu, 1e-5);
    // The weights are the model's own GPU tensors: assigning through the model shows in the copy.
    let kernel = model.get_layer("hidden").unwrap().weights()[0];
    kernel.assign(&kernel.value().zeros_like().unwrap()).unwrap();
    let bias = values(&model.get_layer("hidden").unwrap().get_weights().unwrap()[1]);
    let relu_bias: Vec<f64> = (0..6).flat_map(|_| bias.iter().map(|b| b.max(0.0))).collect();
    assert_close(&values(&features.predict_all(&xs, 6).unwrap()[0]), &relu_bias, 1e-6);
}
