"""examples/vae_train_step.py end to end on tiny settings: the VAE as a Model subclass whose
train_step fit() calls (Keras 3's "customizing what happens in fit"), with validation and
callbacks; and, on the same tiny settings and seed, its test negative ELBO beside vae_mnist.py's
(the lesson's claim, measured at full size in its metrics.json)."""

import pytest

from .example_runner import assert_finite_numbers, assert_pngs, load_metrics, needs_matplotlib, run_example

TINY = ("--epochs", 3, "--limit", 600, "--batch-size", 50, "--test-limit", 200, "--verbose", 0)


@needs_matplotlib
def test_vae_train_step_end_to_end_and_beside_vae_mnist(tmp_path, mnist_available):
    out = tmp_path / "train_step"
    stdout = run_example("vae_train_step.py", out, *TINY)
    assert_pngs(out, ["loss_curves.png", "latent.png"])
    m = load_metrics(out)
    assert assert_finite_numbers(m) > 10
    assert m["epochs_done"] == 3 and len(m["test_nelbo"]) == len(m["train_nelbo"]) == 3
    # the callbacks ran: metrics.json per epoch (LambdaCallback), the best weights (ModelCheckpoint)
    assert (out / "vae_best.npz").is_file()
    for nelbo, recon, kl in zip(m["test_nelbo"], m["test_reconstruction"], m["test_kl"]):
        assert nelbo == pytest.approx(recon + kl, rel=1e-5) and kl >= 0
    assert m["test_nelbo"][-1] < m["test_nelbo"][0] - 20          # it learns
    assert "test negative ELBO" in stdout

    reference = tmp_path / "vae_mnist"
    run_example("vae_mnist.py", reference, *TINY)
    ours, theirs = m["test_nelbo"][-1], load_metrics(reference)["test_nelbo"][-1]
    # same seed, epochs, data, architecture and loss: the two loops land close together
    assert abs(ours - theirs) < 0.05 * theirs, (ours, theirs)


@needs_matplotlib
def test_vae_train_step_conv_runs(tmp_path, mnist_available):
    out = tmp_path / "conv"
    run_example("vae_train_step.py", out, "--conv", "--epochs", 1, "--limit", 40, "--batch-size", 20,
                "--test-limit", 20, "--verbose", 0)
    m = load_metrics(out)
    assert m["model"] == "conv" and len(m["test_nelbo"]) == 1
