"""small_data_convnet.py and residual_and_separable.py end to end, as a user runs them, on tiny
settings: real PNGs, a metrics.json of finite numbers, the variants scored on one validation
split, and the parameter counts each lesson's table rests on. Skipped, with the reason shown,
where matplotlib or the digits are missing."""

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example


@needs_matplotlib
def test_small_data_convnet_example(tmp_path, mnist_available):
    out = tmp_path / "small"
    stdout = run_example("small_data_convnet.py", out, "--epochs", 2, "--limit", 1500, "--train-size", 100,
                         "--val-size", 200, "--base-epochs", 1, "--head-epochs", 3, "--finetune-epochs", 2)
    assert_pngs(out, ["curves.png", "augmented.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 100
    variants = ["scratch", "dropout", "augmentation", "augmentation + dropout", "feature extraction", "fine-tuned"]
    assert list(m["results"]) == variants and list(m["histories"]) == variants
    assert m["n_train"] == 100 and m["n_val"] == 200 and m["n_test"] == 250
    for name in variants:
        h, r = m["histories"][name], m["results"][name]
        epochs = {"feature extraction": 3, "fine-tuned": 2}.get(name, 2)
        assert len(h["val_accuracy"]) == len(h["accuracy"]) == epochs
        assert max(h["val_accuracy"]) == r["best_val_accuracy"]
        for key in ("best_val_accuracy", "final_val_accuracy", "test_accuracy"):
            assert 0 <= r[key] <= 1
    # augmentation and dropout add no weights: every from-scratch variant is the same network
    params = m["params"]
    assert params["scratch"] == params["dropout"] == params["augmentation"] == params["augmentation + dropout"]
    assert params["scratch"] == (9 * 32 + 32) + (9 * 32 * 64 + 64) + (1600 * 5 + 5)
    assert params["feature extraction"] == params["fine-tuned"] == (9 * 32 + 32) + (9 * 32 * 64 + 64) + \
        (1600 * 64 + 64) + (64 * 5 + 5)
    assert m["base_accuracy_digits_0_4"] > 0.5
    assert "test accuracy" in stdout and "fine-tuning" in stdout


@needs_matplotlib
def test_residual_and_separable_example(tmp_path, mnist_available):
    out = tmp_path / "res"
    stdout = run_example("residual_and_separable.py", out, "--epochs", 2, "--limit", 300,
                         "--widths", "4,8,8", "--wide-widths", "8,16,16")
    assert_pngs(out, ["curves.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 30
    table = m["table"]
    assert list(table) == ["plain", "residual", "separable", "separable, wider"]
    for row in table.values():
        assert 0 <= row["final_val_accuracy"] <= 1 and row["seconds_per_epoch"] > 0
    for name, h in m["histories"].items():
        assert len(h["loss"]) == len(h["val_accuracy"]) == 2
        assert max(h["val_accuracy"]) == table[name]["best_val_accuracy"]

    def conv(c_in, c_out, k=3):
        return k * k * c_in * c_out + c_out

    def separable(c_in, c_out):
        return 9 * c_in + c_in * c_out + c_out

    plain = conv(1, 4) + conv(4, 4) + conv(4, 8) + conv(8, 8) + conv(8, 8) + conv(8, 8) + 8 * 10 + 10
    assert table["plain"]["params"] == plain
    # the shortcuts' 1x1 projections where the shape changes (1->4 and 4->8, strided); none for 8->8
    assert table["residual"]["params"] == plain + conv(1, 4, 1) + conv(4, 8, 1)
    assert table["separable"]["params"] == conv(1, 4) + separable(4, 4) + separable(4, 4) + conv(4, 4, 1) + \
        separable(4, 8) + separable(8, 8) + conv(4, 8, 1) + separable(8, 8) + separable(8, 8) + 8 * 10 + 10
    assert table["separable"]["params"] < table["plain"]["params"]
    assert "s/epoch" in stdout
