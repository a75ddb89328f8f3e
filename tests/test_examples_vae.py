"""The VAE examples end to end, as a user runs them, on tiny settings (a few batches each).

Each example runs as a subprocess into tmp_path; the test checks that its figures are real
PNG files and that metrics.json parses and holds only finite numbers. One small-settings
quality check: the MLP VAE's test negative ELBO falls between epoch 1 and epoch 3.
"""

import pytest

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example


VAE_FIGURES = ["loss_curves.png", "latent.png", "manifold.png", "reconstructions.png"]


@needs_matplotlib
def test_vae_mnist_mlp_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "vae"
    stdout = run_example("vae_mnist.py", out, "--epochs", 1, "--limit", 200, "--batch-size", 50,
                         "--test-limit", 100, "--verbose", 0)
    assert_pngs(out, VAE_FIGURES)
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 10
    assert m["model"] == "mlp" and m["n_train"] == 200 and m["n_test"] == 100
    assert len(m["test_nelbo"]) == len(m["train_loss"]) == 1
    assert m["test_nelbo"][0] == pytest.approx(m["test_reconstruction"][0] + m["test_kl"][0], rel=1e-5)
    assert m["test_kl"][0] >= 0 and m["wall_time_s"] > 0
    assert "mnist" in m["data_source"].lower()
    assert "test negative ELBO" in stdout


@needs_matplotlib
def test_vae_mnist_conv_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "conv"
    run_example("vae_mnist.py", out, "--conv", "--epochs", 1, "--limit", 40, "--batch-size", 20,
                "--test-limit", 20, "--verbose", 0)
    assert_pngs(out, VAE_FIGURES)
    m = load_metrics(out)
    assert_finite_numbers(m)
    assert m["model"] == "conv" and len(m["test_nelbo"]) == 1


@needs_matplotlib
def test_vae_mnist_test_nelbo_falls(tmp_path, mnist_available):
    """Quality on small settings: 3 epochs on 600 digits lower the test negative ELBO clearly."""
    out = tmp_path / "quality"
    run_example("vae_mnist.py", out, "--epochs", 3, "--limit", 600, "--batch-size", 50,
                "--test-limit", 200, "--verbose", 0)
    nelbo = load_metrics(out)["test_nelbo"]
    assert len(nelbo) == 3
    # seeds 0-3 give 335-344 after epoch 1 and 231-233 after epoch 3
    assert nelbo[2] < nelbo[0] - 50, f"test negative ELBO did not fall: {nelbo}"
    assert nelbo[2] < 280, f"test negative ELBO after 3 epochs is {nelbo[2]:.1f} nats"


@needs_matplotlib
def test_vae_scurve_end_to_end(tmp_path):
    out = tmp_path / "scurve"
    stdout = run_example("vae_scurve.py", out, "--epochs", 2, "--points", 300)
    assert_pngs(out, ["scurve.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 20
    assert set(m["variants"]) == {"bernoulli_kl", "bernoulli_nokl", "gaussian_kl", "gaussian_nokl"}
    for v in m["variants"].values():
        assert v["test_kl"] >= 0 and v["error"] >= 0 and -1 <= v["rho"] <= 1
    assert m["answer"] and "Why is performance terrible?" in stdout


@needs_matplotlib
def test_autoencoder_vs_vae_end_to_end(tmp_path, mnist_available):
    out = tmp_path / "ae_vs_vae"
    stdout = run_example("autoencoder_vs_vae.py", out, "--epochs", 1, "--limit", 200, "--batch-size", 50,
                         "--test-limit", 100, "--verbose", 0)
    assert_pngs(out, ["ae_vs_vae.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 20
    assert set(m["models"]) == {"autoencoder", "vae"}
    for model in m["models"].values():
        assert len(model["std"]) == 2 and 0 <= model["empty_cell_fraction"] <= 1
        assert model["grid_size"] == 225
    assert "What this run shows" in stdout
