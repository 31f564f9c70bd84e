//! Model summaries: the parameter counts of every model in SPEC.md's table equal Keras's, and
//! the table prints in Keras 3's layout. Counts are exact integers: no tolerance.

use tessera::nn::{
    Apply, Conv2D, Conv2DTranspose, Dense, Flatten, GRU, Input, LSTM, MaxPooling2D, Model, Padding,
};

/// Each listed layer's (name, output shape, parameter count).
fn rows(model: &Model) -> Vec<(String, Vec<usize>, usize)> {
    let shapes = model_shapes(model);
    model
        .layers()
        .iter()
        .zip(shapes)
        .map(|(l, s)| (l.name().to_string(), s, l.weights().iter().map(|w| w.numel()).sum()))
        .collect()
}

/// The output shapes, read back from the summary's "Output Shape" column, which is what the
/// user sees (a summary row per listed layer; a name too long for its column continues on a
/// line of its own, with the other cells empty).
fn model_shapes(model: &Model) -> Vec<Vec<usize>> {
    model
        .summary()
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.split('│').nth(2).unwrap().trim().to_string())
        .filter(|cell| !cell.is_empty())
        .map(|cell| {
            cell.trim_start_matches("(None")
                .trim_end_matches(')')
                .split(", ")
                .skip(1)
                .map(|d| d.parse().unwrap())
                .collect()
        })
        .collect()
}

fn row(name: &str, shape: &[usize], params: usize) -> (String, Vec<usize>, usize) {
    (name.to_string(), shape.to_vec(), params)
}

/// The notes' three-convolution stack on 20x20x3 images, with `valid` or `same` padding.
fn conv_stack(padding: Padding) -> Model {
    Model::sequential(vec![
        Box::new(Dense::new(16).input_shape(&[20, 20, 3]).activation("relu")),
        Box::new(Conv2D::new(32, (3, 3)).activation("relu").padding(padding)),
        Box::new(Conv2D::new(64, (5, 5)).activation("relu").padding(padding)),
        Box::new(Conv2D::new(128, (7, 7)).activation("relu").padding(padding)),
        Box::new(Flatten::new()),
        Box::new(Dense::new(2).activation("softmax")),
    ])
    .unwrap()
}

#[test]
fn valid_padding_stack_has_473_890_parameters() {
    let model = conv_stack(Padding::Valid);
    assert_eq!(
        rows(&model),
        [
            row("dense", &[20, 20, 16], 64),
            row("conv2d", &[18, 18, 32], 4640),
            row("conv2d_1", &[14, 14, 64], 51264),
            row("conv2d_2", &[8, 8, 128], 401536),
            row("flatten", &[8192], 0),
            row("dense_1", &[2], 16386),
        ]
    );
    assert_eq!(model.count_params(), (473_890, 0));
}

#[test]
fn same_padding_stack_has_559_906_parameters() {
    let model = conv_stack(Padding::Same);
    assert_eq!(rows(&model)[4], row("flatten", &[51200], 0));
    assert_eq!(rows(&model)[5], row("dense_1", &[2], 102402));
    assert_eq!(model.count_params(), (559_906, 0));
}

#[test]
fn pooled_stack_has_68_770_parameters() {
    // As the notes write it: padding and strides by name and number.
    let model = Model::sequential(vec![
        Box::new(Dense::new(16).input_shape(&[20, 20, 3]).activation("relu")),
        Box::new(Conv2D::new(32, 3).activation("relu").padding("same")),
        Box::new(MaxPooling2D::new().pool_size((2, 2)).strides(2).padding("valid")),
        Box::new(Conv2D::new(64, (5, 5)).activation("relu").padding("same")),
        Box::new(Flatten::new()),
        Box::new(Dense::new(2).activation("softmax")),
    ])
    .unwrap();
    assert_eq!(
        rows(&model),
        [
            row("dense", &[20, 20, 16], 64),
            row("conv2d", &[20, 20, 32], 4640),
            row("max_pooling2d", &[10, 10, 32], 0),
            row("conv2d_1", &[10, 10, 64], 51264),
            row("flatten", &[6400], 0),
            row("dense_1", &[2], 12802),
        ]
    );
    assert_eq!(model.count_params(), (68_770, 0));
}

/// The notes' Dense stack on (1, 5) inputs, built with `add` as the notes also do.
fn dense_stack() -> Model {
    let mut model = Model::sequential(Vec::new()).unwrap();
    model.add(Dense::new(16).input_shape(&[1, 5]).activation("relu")).unwrap();
    model.add(Dense::new(32).activation("relu").kernel_initializer("glorot_uniform")).unwrap();
    model.add(Dense::new(2).activation("softmax")).unwrap();
    model
}

#[test]
fn dense_stack_has_706_parameters() {
    let model = dense_stack();
    assert_eq!(
        rows(&model),
        [row("dense", &[1, 16], 96), row("dense_1", &[1, 32], 544), row("dense_2", &[1, 2], 66)]
    );
    assert_eq!(model.count_params(), (706, 0));
}

#[test]
fn two_input_network_has_17_parameters() {
    let model = Model::sequential(vec![
        Box::new(Dense::new(3).input_shape(&[2]).activation("relu")),
        Box::new(Dense::new(2).activation("softmax")),
    ])
    .unwrap();
    assert_eq!(rows(&model), [row("dense", &[3], 9), row("dense_1", &[2], 8)]);
    assert_eq!(model.count_params(), (17, 0));
}

/// Keras 3's counts (`LSTM(32)` and `GRU(32)` built on (5, 8) sequences, `Conv2DTranspose(16, 3)`
/// on 7x7x8 images, read from `count_params()` and `compute_output_shape` in Keras 3.15.1;
/// the formulas are those of `keras/src/layers/rnn/lstm.py` (kernel (8, 128), recurrent kernel
/// (32, 128), bias (128,)), `gru.py` (kernel (8, 96), recurrent kernel (32, 96), bias (2, 96)
/// with `reset_after=True`, (96,) without: 3,936) and `convolutional/base_conv_transpose.py` (kernel (3, 3, 16, 8),
/// bias (16,))).
#[test]
fn recurrent_and_transposed_layers_have_keras_counts() {
    let model = Model::sequential(vec![
        Box::new(LSTM::new(32).input_shape(&[5, 8]).return_sequences(true)),
        Box::new(Dense::new(8)),
        Box::new(GRU::new(32)),
    ])
    .unwrap();
    assert_eq!(
        rows(&model),
        [row("lstm", &[5, 32], 5248), row("dense", &[5, 8], 264), row("gru", &[32], 4032)]
    );
    assert_eq!(model.count_params(), (9544, 0));
    let model =
        Model::sequential(vec![Box::new(GRU::new(32).reset_after(false).input_shape(&[5, 8]))]).unwrap();
    assert_eq!(rows(&model), [row("gru", &[32], 3936)]);
    let model = Model::sequential(vec![
        Box::new(Conv2DTranspose::new(16, 3).input_shape(&[7, 7, 8])),
        Box::new(Conv2DTranspose::new(4, 3).strides(2).padding("same")),
    ])
    .unwrap();
    assert_eq!(
        rows(&model),
        [row("conv2d_transpose", &[9, 9, 16], 1168), row("conv2d_transpose_1", &[18, 18, 4], 580)]
    );
}

/// The summary of the 706-parameter model, character for character as Keras 3 prints it.
const DENSE_STACK_SUMMARY: &str = "\
Model: \"sequential\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 1, 16)          │            96 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 1, 32)          │           544 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_2 (Dense)                 │ (None, 1, 2)           │            66 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 706 (2.76 KB)
 Trainable params: 706 (2.76 KB)
 Non-trainable params: 0 (0.00 B)
";

#[test]
fn summary_prints_keras_3_layout() {
    assert_eq!(dense_stack().summary(), DENSE_STACK_SUMMARY);
}

/// VGG16's convolutional base on 224x224x3 images (no top): blocks of 3x3 `same` ReLU
/// convolutions, each block closed by a 2x2 max pool, with Keras's layer names.
fn vgg16_base(input: &tessera::nn::SymbolicTensor) -> tessera::nn::Result<tessera::nn::SymbolicTensor> {
    let blocks: [&[usize]; 5] =
        [&[64, 64], &[128, 128], &[256, 256, 256], &[512, 512, 512], &[512, 512, 512]];
    let mut x = input.clone();
    for (b, filters) in blocks.iter().enumerate() {
        for (c, &f) in filters.iter().enumerate() {
            let conv = Conv2D::new(f, (3, 3)).padding(Padding::Same).activation("relu");
            x = conv.named(format!("block{}_conv{}", b + 1, c + 1)).apply(&[&x])?;
        }
        x = MaxPooling2D::new().named(format!("block{}_pool", b + 1)).apply(&[&x])?;
    }
    Ok(x)
}

const VGG16_TRANSFER_SUMMARY: &str = "\
Model: \"functional\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer (InputLayer)        │ (None, 224, 224, 3)    │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block1_conv1 (Conv2D)           │ (None, 224, 224, 64)   │         1,792 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block1_conv2 (Conv2D)           │ (None, 224, 224, 64)   │        36,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block1_pool (MaxPooling2D)      │ (None, 112, 112, 64)   │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block2_conv1 (Conv2D)           │ (None, 112, 112, 128)  │        73,856 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block2_conv2 (Conv2D)           │ (None, 112, 112, 128)  │       147,584 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block2_pool (MaxPooling2D)      │ (None, 56, 56, 128)    │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block3_conv1 (Conv2D)           │ (None, 56, 56, 256)    │       295,168 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block3_conv2 (Conv2D)           │ (None, 56, 56, 256)    │       590,080 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block3_conv3 (Conv2D)           │ (None, 56, 56, 256)    │       590,080 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block3_pool (MaxPooling2D)      │ (None, 28, 28, 256)    │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block4_conv1 (Conv2D)           │ (None, 28, 28, 512)    │     1,180,160 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block4_conv2 (Conv2D)           │ (None, 28, 28, 512)    │     2,359,808 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block4_conv3 (Conv2D)           │ (None, 28, 28, 512)    │     2,359,808 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block4_pool (MaxPooling2D)      │ (None, 14, 14, 512)    │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block5_conv1 (Conv2D)           │ (None, 14, 14, 512)    │     2,359,808 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block5_conv2 (Conv2D)           │ (None, 14, 14, 512)    │     2,359,808 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block5_conv3 (Conv2D)           │ (None, 14, 14, 512)    │     2,359,808 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ block5_pool (MaxPooling2D)      │ (None, 7, 7, 512)      │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 25088)          │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 512)            │    12,845,568 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         5,130 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 27,565,386 (105.15 MB)
 Trainable params: 12,850,698 (49.02 MB)
 Non-trainable params: 14,714,688 (56.13 MB)
";

#[test]
fn frozen_vgg16_base_with_new_head_matches_the_notes() {
    // Built as in the notes: the base's layers frozen, then Flatten, Dense(512), Dense(10) on top.
    let input = Input::new(&[224, 224, 3]).symbolic().unwrap();
    let base = vgg16_base(&input).unwrap();
    let x = Flatten::new().apply(&[&base]).unwrap();
    let x = Dense::new(512).activation("relu").apply(&[&x]).unwrap();
    let output = Dense::new(10).activation("softmax").apply(&[&x]).unwrap();
    let mut model = Model::functional(&[&input], &output).unwrap();
    for layer in model.layers_mut().into_iter().filter(|l| l.name().starts_with("block")) {
        layer.set_trainable(false);
    }
    assert_eq!(model.count_params(), (12_850_698, 14_714_688));
    assert_eq!(model.count_params().0 + model.count_params().1, 27_565_386);
    assert_eq!(model.summary(), VGG16_TRANSFER_SUMMARY);
}

#[test]
fn frozen_sequential_base_with_new_head_counts_the_same() {
    // The same transfer learning with a Sequential model: freeze everything, then add the head.
    let mut model = Model::sequential(vec![Box::new(Input::new(&[224, 224, 3]))]).unwrap();
    for filters in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0] {
        match filters {
            0 => model.add(MaxPooling2D::new()).unwrap(),
            f => model.add(Conv2D::new(f, 3).padding("same").activation("relu")).unwrap(),
        }
    }
    assert_eq!(model.count_params(), (14_714_688, 0));
    model.set_trainable(false);
    model.add(Flatten::new()).unwrap();
    model.add(Dense::new(512).activation("relu")).unwrap();
    model.add(Dense::new(10).activation("softmax")).unwrap();
    assert_eq!(model.count_params(), (12_850_698, 14_714_688));
    assert_eq!(model.layers().len(), 21);
    let layers = model.layers();
    let names: Vec<&str> = layers.iter().map(|l| l.name()).collect();
    assert_eq!(&names[..3], ["conv2d", "conv2d_1", "max_pooling2d"]);
    assert_eq!(names[20], "dense_1");
    assert!(model.summary().ends_with(
        " Total params: 27,565,386 (105.15 MB)\n Trainable params: 12,850,698 (49.02 MB)\n Non-trainable params: 14,714,688 (56.13 MB)\n"
    ));
}
