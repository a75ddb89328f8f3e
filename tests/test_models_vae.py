"""models/autoencoder.py and models/vae.py: whole-model gradient checks and the VAE's semantics.

Gradient checks run on tiny float64 instances (hypothesis draws the sizes, inputs and seeds),
with respect to the input and every parameter at once: a plain tensor stands in for each
Parameter while gradcheck perturbs it. The VAEs are checked with a fixed epsilon, so the loss
is a deterministic function of the weights.
"""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import assert_model_gradients
from models.autoencoder import Autoencoder
from models.vae import LIKELIHOODS, MLPVAE, ConvVAE, Trainer

from .conftest import float64_model

# ---------------------------------------------------------------------- helpers

def check_model_gradients(model, loss_fn, x, method="central"):
    """gradcheck of loss_fn(x) with respect to x and every trainable parameter of the model."""
    assert assert_model_gradients(model, loss_fn, x, method=method)


def images(rng, shape, device):
    """float64 'pixels' in [0.05, 0.95] (Bernoulli targets need not be binary)."""
    return mg.tensor(rng.uniform(0.05, 0.95, size=shape), dtype="float64", device=device)




# ---------------------------------------------------------------------- whole-model gradient checks

@given(input_dim=st.integers(2, 7), hidden=st.integers(2, 5), latent=st.integers(1, 3),
       batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_autoencoder_gradients(device, input_dim, hidden, latent, batch, seed):
    mg.manual_seed(seed)
    ae = float64_model(Autoencoder(input_dim=input_dim, hidden=hidden, latent_dim=latent), device, seed)
    x = images(np.random.default_rng(seed), (batch, input_dim), device)
    check_model_gradients(ae, ae.loss, x)


@given(input_dim=st.integers(2, 7), hidden=st.integers(2, 5), latent=st.integers(1, 3),
       batch=st.integers(1, 3), likelihood=st.sampled_from(LIKELIHOODS),
       beta=st.sampled_from([0.0, 0.5, 1.0]), seed=st.integers(0, 2**16))
def test_mlp_vae_gradients_with_fixed_eps(device, input_dim, hidden, latent, batch, likelihood, beta, seed):
    mg.manual_seed(seed)
    vae = float64_model(MLPVAE(input_dim=input_dim, hidden=hidden, latent_dim=latent, likelihood=likelihood,
                      beta=beta, sigma=0.5), device, seed)
    rng = np.random.default_rng(seed)
    x = images(rng, (batch, input_dim), device)
    eps = mg.tensor(rng.standard_normal((batch, latent)), dtype="float64", device=device)

    def total(x):
        t, r, k = vae.loss(x, eps=eps)
        return t, r, k            # all three terms are checked (each through a random projection)
    check_model_gradients(vae, total, x)


@settings(max_examples=max(6, settings.default.max_examples // 4), deadline=None,   # ci: 6, thorough: 75
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(side=st.sampled_from([4, 6, 8]), filters=st.tuples(*[st.integers(1, 3)] * 4),
       dense=st.integers(2, 4), latent=st.integers(1, 2), batch=st.integers(1, 2),
       likelihood=st.sampled_from(LIKELIHOODS), seed=st.integers(0, 2**16))
def test_conv_vae_gradients_with_fixed_eps(device, side, filters, dense, latent, batch, likelihood, seed):
    mg.manual_seed(seed)
    vae = float64_model(ConvVAE(input_shape=(1, side, side), latent_dim=latent, filters=filters, dense=dense,
                       likelihood=likelihood, sigma=0.5), device, seed)
    rng = np.random.default_rng(seed)
    x = images(rng, (batch, 1, side, side), device)
    eps = mg.tensor(rng.standard_normal((batch, latent)), dtype="float64", device=device)
    check_model_gradients(vae, lambda x: vae.loss(x, eps=eps)[0], x, method="random-direction")


# ---------------------------------------------------------------------- the loss, term by term

def _numpy_terms(vae, x, eps):
    """Reference per-image (reconstruction, kl) computed in NumPy from the model's own outputs."""
    with mg.no_grad():
        z_mean, z_log_var = (t.numpy() for t in vae.encode(x))
        z = z_mean + np.exp(0.5 * z_log_var) * eps
        p = vae.decode(z).numpy().reshape(len(x), -1)
    xs = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if vae.likelihood == "bernoulli":
        recon = -(xs * np.log(p) + (1 - xs) * np.log1p(-p)).sum(axis=1)
    else:
        s2 = vae.sigma ** 2
        recon = ((xs - p) ** 2).sum(axis=1) / (2 * s2) + 0.5 * xs.shape[1] * math.log(2 * math.pi * s2)
    kl = -0.5 * (1 + z_log_var - z_mean ** 2 - np.exp(z_log_var)).sum(axis=1)
    return recon, kl


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_loss_terms_match_numpy(likelihood):
    rng = np.random.default_rng(1)
    vae = MLPVAE(input_dim=12, hidden=6, latent_dim=3, likelihood=likelihood, sigma=0.3).double()
    x = rng.uniform(0, 1, (5, 12))
    x[:2] = x[:2] > 0.5                                 # binary and grey pixels alike
    eps = rng.standard_normal((5, 3))
    recon, kl = _numpy_terms(vae, x, eps)
    total, r, k = vae.loss(x, eps=eps, per_image=True)
    np.testing.assert_allclose(r.numpy(), recon, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(k.numpy(), kl, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(total.numpy(), recon + kl, rtol=1e-10)
    t_mean, r_mean, k_mean = vae.loss(x, eps=eps)       # the default: batch means
    np.testing.assert_allclose([t_mean.item(), r_mean.item(), k_mean.item()],
                               [(recon + kl).mean(), recon.mean(), kl.mean()], rtol=1e-10)


@settings(deadline=None)
@given(seed=st.integers(0, 2**16), batch=st.integers(1, 6))
def test_kl_is_nonnegative_and_beta_weighs_it(seed, batch):
    rng = np.random.default_rng(seed)
    mg.manual_seed(seed)
    vae = MLPVAE(input_dim=5, hidden=4, latent_dim=2).double()
    for p in vae.parameters():                           # large weights: far from the prior
        p.data = p.data * rng.uniform(0.5, 4.0)
    x = rng.uniform(0, 1, (batch, 5))
    eps = rng.standard_normal((batch, 2))
    total1, recon1, kl1 = vae.loss(x, eps=eps, per_image=True)
    assert (kl1.numpy() >= 0).all()
    vae.beta = 0.25
    total_q, recon_q, _ = vae.loss(x, eps=eps, per_image=True)
    np.testing.assert_allclose(total_q.numpy(), recon_q.numpy() + 0.25 * kl1.numpy(), rtol=1e-12)
    vae.beta = 0.0
    total0, recon0, kl0 = vae.loss(x, eps=eps, per_image=True)
    np.testing.assert_array_equal(total0.numpy(), recon0.numpy())    # beta = 0: no KL in the loss
    np.testing.assert_array_equal(kl0.numpy(), kl1.numpy())          # ... but it is still reported


def test_beta_zero_leaves_no_kl_gradient():
    """With beta = 0 and eps = 0 the loss does not depend on z_log_var at all: its head gets zero grads."""
    vae = MLPVAE(input_dim=6, hidden=4, latent_dim=2, beta=0.0).double()
    x = np.random.default_rng(0).uniform(0, 1, (3, 6))
    vae.loss(x, eps=np.zeros((3, 2)))[0].backward()
    assert np.all(vae.z_log_var_head.kernel.grad.numpy() == 0)
    vae.zero_grad()
    vae.beta = 1.0
    vae.loss(x, eps=np.zeros((3, 2)))[0].backward()
    assert np.any(vae.z_log_var_head.kernel.grad.numpy() != 0)


def test_kl_is_zero_at_the_prior():
    vae = MLPVAE(input_dim=4, hidden=3, latent_dim=2).double()
    for head in (vae.z_mean_head, vae.z_log_var_head):      # q(z|x) = N(0, I) for every x
        head.kernel.data = head.kernel.data * 0
        head.bias.data = head.bias.data * 0
    _, _, kl = vae.loss(np.full((2, 4), 0.3), per_image=True)
    np.testing.assert_array_equal(kl.numpy(), 0.0)


def test_likelihood_switch_changes_only_the_reconstruction_term():
    rng = np.random.default_rng(0)
    x, eps = rng.uniform(0, 1, (4, 8)), rng.standard_normal((4, 2))
    mg.manual_seed(0)
    bern = MLPVAE(input_dim=8, hidden=5, likelihood="bernoulli").double()
    gauss = MLPVAE(input_dim=8, hidden=5, likelihood="gaussian", sigma=0.2).double()
    gauss.set_weights(bern.get_weights())
    _, r_b, k_b = bern.loss(x, eps=eps)
    _, r_g, k_g = gauss.loss(x, eps=eps)
    assert k_b.item() == k_g.item()
    assert r_b.item() != pytest.approx(r_g.item())
    gauss.sigma = 0.4                                      # a wider Gaussian: squared errors cost less
    _, r_g2, _ = gauss.loss(x, eps=eps)
    sq = (r_g.item() - 0.5 * 8 * math.log(2 * math.pi * 0.04)) * 2 * 0.04        # sum of squared errors
    assert r_g2.item() == pytest.approx(sq / (2 * 0.16) + 0.5 * 8 * math.log(2 * math.pi * 0.16))


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="likelihood"):
        MLPVAE(input_dim=4, hidden=3, likelihood="poisson")
    with pytest.raises(ValueError, match="beta"):
        MLPVAE(input_dim=4, hidden=3, beta=-1)
    with pytest.raises(ValueError, match="even"):
        ConvVAE(input_shape=(1, 7, 7), filters=(1, 1, 1, 1), dense=2)
    vae = MLPVAE(input_dim=4, hidden=3, latent_dim=2)
    with pytest.raises(ValueError, match="eps"):
        vae.loss(np.zeros((3, 4), np.float32), eps=np.zeros((3, 5), np.float32))


# ---------------------------------------------------------------------- sampling and shapes

def test_reparameterisation_uses_the_seeded_generator():
    vae = MLPVAE(input_dim=6, hidden=4, latent_dim=3)
    x = np.random.default_rng(0).uniform(0, 1, (5, 6)).astype(np.float32)
    mg.manual_seed(7)
    _, _, _, z1 = vae(x)
    mg.manual_seed(7)
    _, _, _, z2 = vae(x)
    _, _, _, z3 = vae(x)                                   # the generator moved on
    np.testing.assert_array_equal(z1.numpy(), z2.numpy())
    assert not np.array_equal(z2.numpy(), z3.numpy())
    mg.manual_seed(7)
    s1 = vae.sample(4).numpy()
    mg.manual_seed(7)
    np.testing.assert_array_equal(vae.sample(4).numpy(), s1)


def test_fixed_eps_gives_z_mean_plus_scaled_eps():
    vae = MLPVAE(input_dim=6, hidden=4, latent_dim=2).double()
    x = np.random.default_rng(0).uniform(0, 1, (3, 6))
    eps = np.array([[0.0, 0.0], [1.0, -1.0], [2.0, 0.5]])
    _, z_mean, z_log_var, z = vae(x, eps=eps)
    np.testing.assert_allclose(z.numpy(), z_mean.numpy() + np.exp(0.5 * z_log_var.numpy()) * eps)


def test_shapes_of_encode_decode_sample_reconstruct():
    mlp = MLPVAE(input_dim=784, hidden=16, latent_dim=2)
    x = np.random.default_rng(0).uniform(0, 1, (3, 784)).astype(np.float32)
    z_mean, z_log_var = mlp.encode(x)
    assert z_mean.shape == z_log_var.shape == (3, 2)
    assert mlp.decode(z_mean).shape == (3, 784)
    assert mlp.sample(5).shape == (5, 784)
    assert mlp.reconstruct(x).shape == (3, 784)
    out = mlp.sample(5).numpy()
    assert out.dtype == np.float32 and (out >= 0).all() and (out <= 1).all()

    conv = ConvVAE(input_shape=(1, 8, 8), latent_dim=3, filters=(2, 3, 3, 2), dense=4)
    xc = np.random.default_rng(0).uniform(0, 1, (2, 1, 8, 8)).astype(np.float32)
    assert conv.encode(xc)[0].shape == (2, 3)
    assert conv.decode(np.zeros((4, 3), np.float32)).shape == (4, 1, 8, 8)
    assert conv.sample(3).shape == (3, 1, 8, 8)
    assert conv.reconstruct(xc).shape == (2, 1, 8, 8)

    ae = Autoencoder(input_dim=10, hidden=(6, 4), latent_dim=2)
    assert ae.encode(np.zeros((3, 10), np.float32)).shape == (3, 2)
    assert ae.decode(np.zeros((3, 2), np.float32)).shape == (3, 10)


def test_default_architectures_match_the_lessons():
    mlp = MLPVAE()
    # 784*512+512, two heads 512*2+2, decoder 2*512+512 and 512*784+784
    assert mlp.count_params() == 784 * 512 + 512 + 2 * (512 * 2 + 2) + 2 * 512 + 512 + 512 * 784 + 784
    conv = ConvVAE()
    assert [type(layer).__name__ for layer in conv.encoder.layers] == \
        ["Conv2D", "Conv2D", "Conv2D", "Conv2D", "Flatten", "Dense"]
    assert [layer.filters for layer in conv.encoder.layers[:4]] == [32, 64, 64, 64]
    assert conv.encoder.layers[1].strides == (2, 2)
    assert conv.encoder.output_shape == (32,)
    assert conv.decoder.output_shape == (1, 28, 28)
    ae = Autoencoder()
    assert ae.encoder.output_shape == (2,) and ae.decoder.output_shape == (784,)
    assert [layer.units for layer in ae.encoder.layers] == [512, 2]


@pytest.mark.parametrize("make", [lambda: MLPVAE(input_dim=6, hidden=4),
                                  lambda: ConvVAE(input_shape=(1, 4, 4), filters=(1, 2, 1, 2), dense=3),
                                  lambda: Autoencoder(input_dim=6, hidden=(4, 3))])
def test_parameters_collect_every_weight(make):
    model = make()
    every = [p for m in model.modules() for _, p in m.own_parameters()]
    assert len(every) > 0
    assert {id(p) for p in model.parameters()} == {id(p) for p in every}
    assert model.count_params() == sum(p.size for p in every)


# ---------------------------------------------------------------------- training

@pytest.mark.parametrize("make", [lambda: MLPVAE(input_dim=16, hidden=12, latent_dim=2),
                                  lambda: Autoencoder(input_dim=16, hidden=12, latent_dim=2),
                                  lambda: ConvVAE(input_shape=(1, 4, 4), filters=(2, 2, 2, 2), dense=4)])
def test_trainer_lowers_the_loss(make, device):
    mg.manual_seed(0)
    model = make().to(device)
    rng = np.random.default_rng(0)
    x = (rng.uniform(0, 1, (20,) + tuple(model.input_shape)) > 0.5).astype(np.float32)
    trainer = Trainer(model)
    assert trainer.optimizer.lr == 1e-3
    before = trainer.evaluate(x)
    for _ in range(60):
        values = trainer.step(x)
    after = trainer.evaluate(x)
    assert set(values) == set(model.loss_names) == set(after)
    assert all(math.isfinite(v) for v in after.values())
    assert after["loss"] < before["loss"]


def test_evaluate_averages_over_uneven_batches():
    x = np.random.default_rng(0).uniform(0, 1, (7, 5))
    ae = Autoencoder(input_dim=5, hidden=4).double()         # deterministic: exact comparison
    whole = Trainer(ae).evaluate(x, batch_size=7)["loss"]
    pieces = Trainer(ae).evaluate(x, batch_size=3)["loss"]
    assert pieces == pytest.approx(whole, rel=1e-12)
    assert pieces == pytest.approx(ae.loss(x).item(), rel=1e-12)
    vae = MLPVAE(input_dim=5, hidden=4).double()
    assert set(Trainer(vae).evaluate(x, batch_size=3)) == {"loss", "reconstruction", "kl"}
