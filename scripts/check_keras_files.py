#!/usr/bin/env python3
"""Checks that Keras 3 reads the files tessera writes: builds tessera's .keras and .weights.h5
files of the Keras fixtures (../shared/fixtures/keras) and of a small functional graph, loads them
with Keras, and compares Keras's predictions with tessera's (tolerance 1e-5).

Needs Keras 3 and a backend (KERAS_BACKEND, jax by default); without Keras it says it skipped
and exits 0. Not part of the test suite: run it by hand after changing io/keras.
"""
import json
import os
import subprocess
import sys
import tempfile

TOLERANCE = 1e-5

os.environ.setdefault("KERAS_BACKEND", "jax")
try:
    import keras
    import numpy as np
except ImportError as e:
    print(f"skipped: keras not installed ({e})")
    sys.exit(0)

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0
with tempfile.TemporaryDirectory() as out:
    subprocess.run(
        ["cargo", "test", "--release", "--test", "keras_files", "write_files_for_keras", "--", "--ignored"],
        cwd=root,
        env={**os.environ, "TESSERA_KERAS_CHECK_DIR": out},
        check=True,
    )
    for name in ["mlp", "cnn", "graph"]:
        data = json.load(open(os.path.join(out, f"{name}.predictions.json")))
        x = np.array(data["input"], dtype="float32").reshape(data["input_shape"])
        expected = np.array(data["output"], dtype="float32").reshape(data["output_shape"])
        model = keras.saving.load_model(os.path.join(out, f"{name}.keras"))
        checks = [(".keras", model)]
        clone = keras.models.clone_model(model)
        clone.load_weights(os.path.join(out, f"{name}.weights.h5"))
        checks.append((".weights.h5 into a clone", clone))
        for how, loaded in checks:
            difference = float(np.max(np.abs(loaded.predict(x, verbose=0) - expected)))
            ok = difference <= TOLERANCE
            failures += not ok
            print(f"{name}{how}: max difference from tessera's predictions {difference:.3g} {'ok' if ok else 'FAILED'}")
        if getattr(model, "optimizer", None) is not None:
            iterations = int(model.optimizer.iterations.numpy())
            ok = iterations == 3
            failures += not ok
            print(f"{name}.keras: optimizer {model.optimizer.name}, iterations {iterations} {'ok' if ok else 'FAILED'}")
print(f"{failures} failed")
sys.exit(1 if failures else 0)
