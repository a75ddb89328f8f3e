"""examples/dcgan_mnist.py end to end, as a user runs it, on tiny settings: 3 iterations of
batch 8, a 1-epoch classifier on 300 digits, 60 scored samples. The figures must be real PNGs,
metrics.json must parse and hold only finite numbers, and the trained weights must be saved.
(The quality bar itself, at 2,000 iterations, is measured by the full run; see the README.)
"""

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example


@needs_matplotlib
def test_dcgan_mnist_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "dcgan"
    stdout = run_example("dcgan_mnist.py", out, "--iterations", 3, "--sample-interval", 2, "--batch-size", 8,
                         "--classifier-epochs", 1, "--limit", 300, "--n-samples", 60, "--verbose", 0)
    assert_pngs(out, ["samples_00002.png", "samples_00003.png", "samples_final.png", "samples_by_digit.png",
                      "losses.png"])
    assert (out / "generator.npz").is_file() and (out / "discriminator.npz").is_file()
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 20
    for key in ("digits_present", "rarest_digit_count", "mean_top_prob", "classifier_test_accuracy",
                "d_loss", "g_loss", "d_acc", "wall_seconds", "ms_per_iteration"):
        assert key in m, key
    assert m["iterations"] == 3 and m["batch_size"] == 8 and m["n_train"] == 300
    assert len(m["d_loss"]) == len(m["g_loss"]) == len(m["d_acc"]) == 3
    assert 1 <= m["digits_present"] <= 10 and sum(m["digit_counts"]) == 60
    assert m["rarest_digit_count"] == min(m["digit_counts"])
    assert 0.1 <= m["mean_top_prob"] <= 1 and 0 <= m["classifier_test_accuracy"] <= 1
    assert m["sample_grids"] == ["samples_00002.png", "samples_00003.png"]
    assert not m["classifier_cached"] and "mean top-class probability" in stdout
