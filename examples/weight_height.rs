//! The notes' supervised-learning example: classify people as male (0) or female (1) from
//! weight and height with a tiny dense network, trained with sparse categorical cross-entropy.
//! Line for line with the Keras original:
//!
//! ```python
//! model = Sequential([Dense(16, input_shape=(2,), activation="relu"),
//!                     Dense(32, activation="relu"),
//!                     Dense(2, activation="softmax")])
//! model.compile(Adam(lr=0.0001), loss="sparse_categorical_crossentropy", metrics=['accuracy'])
//! train_sample = [[150,67],[130,60],[200,65],[125,52],[230,72],[181,70]]   # weight, height
//! train_label = [1,1,0,1,0,0]                                             # male=0, female=1
//! model.fit(x=train_sample, y=train_label, batch_size=3, epochs=10, shuffle=True, verbose=2)
//! ```
//!
//! Run with `cargo run --release --example weight_height`.

use tessera::nn::optimizers::Adam;
use tessera::nn::{Dense, FitOptions, Model};
use tessera::{Device, Tensor};

fn main() -> anyhow::Result<()> {
    let mut model = Model::sequential(vec![
        Box::new(Dense::new(16).input_shape(&[2]).activation("relu")),
        Box::new(Dense::new(32).activation("relu")),
        Box::new(Dense::new(2).activation("softmax")),
    ])?;
    model.compile(
        Adam { learning_rate: 0.0001, ..Adam::default() },
        "sparse_categorical_crossentropy",
        &["accuracy"],
    )?;
    model.print_summary();

    // weight, height
    let train_sample = Tensor::from_vec(
        vec![150.0f32, 67.0, 130.0, 60.0, 200.0, 65.0, 125.0, 52.0, 230.0, 72.0, 181.0, 70.0],
        [6, 2],
        &Device::Cpu,
    )?;
    // male = 0, female = 1
    let train_label = Tensor::from_vec(vec![1.0f32, 1.0, 0.0, 1.0, 0.0, 0.0], [6], &Device::Cpu)?;

    model.fit(
        &train_sample,
        &train_label,
        FitOptions::default().batch_size(3).epochs(10).shuffle(true).verbose(2),
    )?;
    Ok(())
}
