"""The workflow lessons end to end, as a user runs them, on tiny settings.

house_prices.py (K-fold regression on the Boston housing table) and overfitting.py (network
size, weight penalties, dropout and early stopping on digits) each run as a subprocess into
tmp_path; the tests check the figures, that metrics.json holds only finite numbers, and the
lesson's points that hold on tiny settings: the features are normalised with training
statistics only, the K folds partition the training rows, EarlyStopping restores the epoch of
minimum validation loss. Skipped, with the reason shown, where matplotlib or mlxtend's data
is missing.
"""
import numpy as np
import pytest

from minigrad import data

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example

needs_tables = pytest.mark.skipif(data._mlxtend_data_file("boston_housing.csv") is None,
                                  reason="mlxtend is not installed: no Boston housing table (pip install mlxtend)")


def _ema(points, factor):
    out = [points[0]]
    for p in points[1:]:
        out.append(factor * out[-1] + (1 - factor) * p)
    return np.array(out)


@needs_matplotlib
@needs_tables
def test_house_prices_example(tmp_path):
    """120 training rows, 30 epochs, one seed (~7 s): the K-fold bookkeeping, the train-only
    normalisation, and the lesson's robust points (seeds 0-4: network 3.7-4.3 vs the mean's
    6.5; raw features 6.8-9.8)."""
    out = tmp_path / "hp"
    n, k = 120, 4
    stdout = run_example("house_prices.py", out, "--epochs", 30, "--limit", n, "--repeats", 1, "--verbose", 0)
    assert_pngs(out, ["kfold_val_mae.png", "test_predictions.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 100
    assert m["n_train"] == n and m["n_test"] == 102 and m["k"] == k and len(m["folds"]) == k
    assert "Harrison & Rubinfeld" in m["data_source"]

    # the normalisation of the final model used the training rows' statistics, and only theirs
    (x_train, _), (x_test, _) = data.load_boston_housing()
    x_train = x_train[:n]
    np.testing.assert_allclose(m["normalisation"]["mean"], x_train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(m["normalisation"]["std"], x_train.std(axis=0), rtol=1e-12)
    leaked = np.concatenate([x_train, x_test]).mean(axis=0)
    assert not np.allclose(m["normalisation"]["mean"], leaked)

    # the K validation parts are disjoint and cover the training rows; each fold is normalised
    # with the statistics of its own training part
    seen = np.concatenate([f["val_indices"] for f in m["folds"]])
    assert sorted(seen.tolist()) == list(range(n))
    for f in m["folds"]:
        train_idx = np.setdiff1d(np.arange(n), f["val_indices"])
        assert f["n_train"] == len(train_idx) == n - len(f["val_indices"])
        np.testing.assert_allclose(f["mean"], x_train[train_idx].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(f["std"], x_train[train_idx].std(axis=0), rtol=1e-12)
        assert len(f["val_mae"]) == 30

    # the curve: the folds' average, its first 10 points dropped, smoothed; the best epoch its argmin
    average = np.mean([f["val_mae"] for f in m["folds"]], axis=0)
    np.testing.assert_allclose(m["average_val_mae"], average, rtol=1e-12)
    assert m["smoothing"] == {"skip_first": 10, "factor": 0.9}
    np.testing.assert_allclose(m["smoothed_val_mae"], _ema(average[10:], 0.9), rtol=1e-12)
    assert m["best_epoch"] == int(np.argmin(m["smoothed_val_mae"])) + 11

    # the lesson's points: the network beats predicting the mean; raw features train far worse;
    # least squares is unchanged by which statistics normalise its inputs (affine invariance)
    assert m["test_mae"] < 0.8 * m["test_mae_baseline_mean"]
    assert m["test_mae_baseline_linear"] < m["test_mae_baseline_mean"]
    assert m["test_mae_raw_features"] > 1.4 * m["test_mae"]
    assert m["test_mae_linear_leaked_test_statistics"] == pytest.approx(m["test_mae_baseline_linear"], rel=1e-9)
    assert len(m["test_mae_per_seed"]["network"]) == 1
    assert "test MAE" in stdout and "linear least squares" in stdout


@needs_matplotlib
@needs_tables
def test_house_prices_refuses_too_few_rows(tmp_path):
    import subprocess
    import sys

    from .example_runner import EXAMPLES, REPO
    proc = subprocess.run([sys.executable, str(EXAMPLES / "house_prices.py"), "--out", str(tmp_path / "x"),
                           "--limit", "5", "--epochs", "2", "--verbose", "0"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "K-fold with K=4 needs at least 8 training rows, got 5" in proc.stderr


@needs_matplotlib
def test_overfitting_example(tmp_path, mnist_available):
    """200 training and 200 validation digits, 6 epochs (~15 s)."""
    out = tmp_path / "of"
    epochs = 6
    stdout = run_example("overfitting.py", out, "--epochs", epochs, "--limit", 200, "--val-size", 200,
                         "--patience", 2, "--verbose", 0)
    assert_pngs(out, ["capacity.png", "regularization.png", "early_stopping.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 300
    assert set(m["tasks"]) == {"binary", "10-class"}
    restored_earlier = []
    for task, r in m["tasks"].items():
        assert r["n"] == {"train": 200, "val": 200, "test": 500}
        variants = r["variants"]
        assert set(variants) == {"original", "smaller", "bigger", "L2", "L1", "dropout"}
        for name, v in variants.items():
            val = np.array(v["val_crossentropy"])
            assert len(val) == epochs and v["best_epoch"] == int(np.argmin(val)) + 1
            assert v["min_val_crossentropy"] == val.min() and 0 <= v["best_val_accuracy"] <= 1
            # Keras' val_loss adds the weight penalties; the reported curve is the data term alone
            keras = np.array(v["val_loss_keras"])
            if name in ("L1", "L2"):
                assert (keras > val).all()
            else:
                np.testing.assert_allclose(keras, val, rtol=1e-6)
        # capacity: the bigger network fits its training digits fastest, the smaller slowest
        train_end = {k: variants[k]["train_crossentropy"][-1] for k in ("smaller", "original", "bigger")}
        assert train_end["bigger"] < train_end["original"] < train_end["smaller"], train_end

        # EarlyStopping(restore_best_weights=True) put back the weights of the epoch of lowest val_loss
        assert set(r["stopping"]) == {"original", "bigger"}
        for name, stops in r["stopping"].items():
            early = stops["EarlyStopping (restored)"]
            assert early["restored_epoch"] == early["argmin_val_loss_epoch"] == int(np.argmin(early["val_loss"])) + 1
            assert early["val_loss_after_restore"] == pytest.approx(min(early["val_loss"]), rel=1e-5)
            assert early["epochs_run"] <= epochs
            if early["val_loss"][-1] > 1.01 * min(early["val_loss"]):     # the last weights were worse
                assert early["val_loss_after_restore"] < early["val_loss"][-1]
                restored_earlier.append((task, name, early["restored_epoch"], early["epochs_run"]))
            retrained = stops["retrained to the best epoch"]
            assert retrained["epochs"] == variants[name]["best_epoch"] and retrained["n_train"] == 400
            assert stops["trained to the end"]["test_accuracy"] == variants[name]["test_accuracy"]
    # the bigger network overfits within these 6 epochs, so some run really had its weights put
    # back from an earlier epoch (seed 0: binary epoch 4 of 6, 10-class 2 of 4; seeds 1-3 too)
    assert restored_earlier, "no EarlyStopping run ended worse than its best epoch: the restore went untested"
    assert "best epoch" in stdout and "EarlyStopping" in stdout
