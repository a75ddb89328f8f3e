"""The Keras-style lessons end to end on tiny settings: examples/vae_functional.py (the MLP VAE
as the Keras lesson builds it) and examples/dcgan_keras.py (keras-gan's code, renames only).
Figures must be real PNGs and metrics.json finite; the VAE's test negative ELBO must fall."""

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example


@needs_matplotlib
def test_vae_functional_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "vaef"
    stdout = run_example("vae_functional.py", out, "--epochs", 3, "--limit", 600, "--batch-size", 50,
                         "--verbose", 0)
    assert_pngs(out, ["latent.png", "manifold.png", "loss_curves.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 5
    assert len(m["test_nelbo"]) == 3 and m["test_nelbo"][2] < m["test_nelbo"][0] - 30
    assert "test negative ELBO" in stdout


@needs_matplotlib
def test_dcgan_keras_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "dk"
    stdout = run_example("dcgan_keras.py", out, "--iterations", 3, "--batch-size", 8, "--classifier-epochs", 1,
                         "--limit", 300, "--n-samples", 60, "--verbose", 0)
    assert_pngs(out, ["samples_final.png", "losses.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 10
    assert m["iterations"] == 3 and len(m["d_loss"]) == len(m["g_loss"]) == 3
    assert sum(m["digit_counts"]) == 60 and "Total params: 856,193" in stdout and "Total params: 393,729" in stdout
    assert m["frozen_batch_norm"] == "batch"              # keras-gan's Keras 2 rule, asked for by the script
