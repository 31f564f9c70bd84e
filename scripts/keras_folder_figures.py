#!/usr/bin/env python3
"""Prints what Keras 3's folder readers and augmentation give on the folders and images that
tests/data_image_folders.rs and tests/data_augmentation.rs build, the figures those tests
hard-code: file orders and splits, class orders, label shapes and dtypes, len(), resized and
grayscale pixels, affine transforms and the brightness shift.

Needs Keras 3, TensorFlow (for image_dataset_from_directory), Pillow and scipy; without them it
says it skipped and exits 0. Not part of the test suite: run it by hand after a Keras upgrade
and compare with the tests' figures.
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import keras
    import numpy as np
    import tensorflow as tf
    from keras.src.legacy.preprocessing.image import ImageDataGenerator, apply_brightness_shift
    from PIL import Image
except ImportError as e:
    print(f"skipped: Keras, TensorFlow or Pillow not installed ({e})")
    sys.exit(0)


def save(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, "RGB").save(path)


def grey(level):
    return np.full((2, 2, 3), level, np.uint8)


def keras_tree(root):
    """The folder of keras_tree() in tests/data_image_folders.rs."""
    for cls, n in [("cats", 5), ("dogs", 4), ("zebras", 3)]:
        for i in range(n):
            save(f"{root}/{cls}/img{i}.{['png', 'PNG', 'jpg'][i % 3]}", grey(i))
    for f in ["cats/.hidden.png", "cats/sub/deep.png", "cats/sub-b.png", ".hiddenclass/x.png"]:
        save(f"{root}/{f}", grey(0))


def main():
    out = {"versions": [keras.__version__, tf.__version__, np.__version__, Image.__version__]}
    quiet = {"verbose": 0}
    with tempfile.TemporaryDirectory() as root:
        keras_tree(root)
        rel = lambda paths: [os.path.relpath(p, root) for p in paths]
        ds = keras.utils.image_dataset_from_directory(root, image_size=(1, 1), shuffle=False, **quiet)
        out["dataset_files"], out["dataset_classes"] = rel(ds.file_paths), ds.class_names
        out["dataset_len_batch_5"] = len(keras.utils.image_dataset_from_directory(root, image_size=(1, 1), batch_size=5, **quiet))
        for subset in ["training", "validation"]:
            ds = keras.utils.image_dataset_from_directory(
                root, image_size=(1, 1), seed=1337, validation_split=0.25, subset=subset, **quiet)
            out[f"dataset_{subset}_seed_1337"] = rel(ds.file_paths)
        ds = keras.utils.image_dataset_from_directory(
            root, image_size=(1, 1), shuffle=False, label_mode="binary", class_names=["zebras", "cats"], **quiet)
        y = np.concatenate([y for _, y in ds])
        out["dataset_binary"] = [list(y.shape), str(y.dtype), rel(ds.file_paths)]
        it = ImageDataGenerator().flow_from_directory(root, target_size=(1, 1), shuffle=False)
        out["flow_files"], out["flow_classes"] = it.filenames, it.class_indices
        out["flow_len_batch_5"] = len(ImageDataGenerator().flow_from_directory(root, target_size=(1, 1), batch_size=5))
        it = ImageDataGenerator().flow_from_directory(
            root, target_size=(1, 1), shuffle=False, class_mode="binary", classes=["zebras", "cats"], batch_size=100)
        out["flow_binary"] = [list(it[0][1].shape), str(it[0][1].dtype)]
        for subset in ["training", "validation"]:
            it = ImageDataGenerator(validation_split=0.25).flow_from_directory(
                root, target_size=(1, 1), shuffle=False, subset=subset)
            out[f"flow_{subset}"] = it.filenames
    with tempfile.TemporaryDirectory() as root:
        k = (5 * np.arange(3)[:, None] + np.arange(5)[None, :]) * 37
        save(f"{root}/a/rgb.png", np.stack([k % 256, (k + 91) % 256, (k + 182) % 256], -1).astype(np.uint8))
        for mode in ["rgb", "grayscale"]:
            ds = keras.utils.image_dataset_from_directory(root, image_size=(2, 3), shuffle=False, color_mode=mode, **quiet)
            out[f"dataset_{mode}"] = next(iter(ds))[0].numpy()[0].reshape(-1).tolist()
            it = ImageDataGenerator().flow_from_directory(root, target_size=(2, 3), shuffle=False, color_mode=mode)
            out[f"flow_{mode}"] = it[0][0][0].reshape(-1).tolist()
    generator = ImageDataGenerator()
    ramp = np.arange(20, dtype="float32").reshape(4, 5, 1)
    for name, params in [("rotation_90", {"theta": 90}), ("zoom_0.5", {"zx": 0.5, "zy": 0.5}),
                         ("shift_tx_1_ty_2", {"tx": 1, "ty": 2}), ("shear_30", {"shear": 30})]:
        out[name] = generator.apply_transform(ramp, params).reshape(-1).tolist()
    image = np.arange(18, dtype="float32").reshape(2, 3, 3) * 14.7 + 0.6
    for factor in [1.3, 0.7]:
        out[f"brightness_{factor}"] = apply_brightness_shift(image, factor, False).reshape(-1).tolist()
    out["brightness_1.3_below_zero"] = apply_brightness_shift(image - 100, 1.3, False).reshape(-1).tolist()
    standardize = ImageDataGenerator(rescale=0.5, preprocessing_function=lambda x: x - 10).standardize
    out["preprocessing_then_rescale_of_100"] = standardize(np.full((1, 1, 3), 100.0, "float32")).reshape(-1).tolist()
    for key, value in out.items():
        print(key, json.dumps(value))


if __name__ == "__main__":
    main()
