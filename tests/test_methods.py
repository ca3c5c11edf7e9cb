"""GANSpace, SeFa and InterFaceGAN: planted answers on a toy, the real families' layers, and every bad input."""

import numpy as np
import pytest
import torch
from toys import BlobGenerator, PlantedGenerator

from latentnav import measure
from latentnav.directions import load_direction
from latentnav.errors import BadInputError, ConditionVanishedError, MethodNotApplicableError, ScorerError
from latentnav.generators.stylegan2 import style_layers as stylegan2_style_layers
from latentnav.methods.ganspace import ganspace
from latentnav.methods.interfacegan import interfacegan, project_orthogonal, train_boundary
from latentnav.methods.layers import latent_weight
from latentnav.methods.sefa import factorize, sefa
from latentnav.methods.trajectory.config import TrajectoryConfig
from latentnav.methods.trajectory.discover import discover


@pytest.fixture(scope="module")
def toy():
    return PlantedGenerator()


def cos(a, b):
    return abs(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item())


# ---------------------------------------------------------------------------------------- planted answers
def test_sefa_recovers_the_planted_directions_in_order(toy):
    res = sefa(toy)
    assert cos(res.directions[0].u, toy.u_x) > 0.99 and cos(res.directions[1].u, toy.u_y) > 0.99
    assert res.eigenvalues[0] > 1.8 * res.eigenvalues[1] > 10 * res.eigenvalues[2]  # 32 vs 16 rows vs noise
    d = res.directions[0]
    assert d.method == "sefa" and d.model == "toy-planted" and not d.calibrated and d.meta["rank"] == 0


@pytest.mark.parametrize("incremental", [False, True])
def test_ganspace_on_a_feature_recovers_the_planted_directions(toy, incremental):
    res = ganspace(toy, n_samples=1500, n_components=3, feature="first", incremental=incremental, chunk=500)
    assert cos(res.directions[0].u, toy.u_x) > 0.98 and cos(res.directions[1].u, toy.u_y) > 0.98
    assert res.explained_variance_ratio[0] > res.explained_variance_ratio[1] > 5 * res.explained_variance_ratio[2]
    assert res.generator_evals == 1500 * (2 if incremental else 1) and res.info["incremental"] is incremental


def test_ganspace_of_an_anisotropic_latent_finds_its_principal_axes():
    class Stretched(BlobGenerator):
        def _draw_z(self, generator):
            return torch.randn(self.z_dim, generator=generator) * torch.tensor([0.2, 0.2, 3.0, 0.2, 1.5, 0.2]) @ self.rot

    G = Stretched()
    G.rot, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(3)))
    res = ganspace(G, n_samples=2000, n_components=2, feature=None)
    assert cos(res.directions[0].u, G.rot[2]) > 0.99 and cos(res.directions[1].u, G.rot[4]) > 0.99
    assert res.generator_evals == 0


def test_trajectory_recovers_the_planted_direction_of_the_same_toy(toy):
    d = discover(toy, "shift-x", TrajectoryConfig(n_trajectories=8, n_steps=2, max_t=0.15), progress=False)
    assert cos(d.u, toy.u_x) > 0.95 and cos(d.u, toy.u_y) < 0.15


def test_interfacegan_recovers_the_planted_boundary(toy):
    d = interfacegan(toy, measure.centroid_x, n_samples=2000, ratio=0.1, name="pos_x")
    assert torch.dot(d.u, toy.u_x).item() > 0.98  # signed: towards higher scores
    assert d.meta["val_accuracy"] == 1.0 and d.meta["remaining_accuracy"] > 0.97
    assert d.method == "interfacegan" and d.meta["attribute"] == "pos_x"


def test_interfacegan_conditional_direction_is_orthogonal_to_its_condition(toy):
    # a skewed attribute (x + y) conditioned on y: what is left is x
    both = interfacegan(toy, lambda x: measure.centroid_x(x) + measure.centroid_y(x), n_samples=2000, ratio=0.1)
    assert cos(both.u, toy.u_x) < 0.85 and cos(both.u, toy.u_y) < 0.85
    only_x = interfacegan(toy, lambda x: measure.centroid_x(x) + measure.centroid_y(x), n_samples=2000, ratio=0.1,
                          conditions=[toy.u_y])  # fmt: skip
    assert abs(torch.dot(only_x.u, toy.u_y).item()) < 1e-6 and cos(only_x.u, toy.u_x) > 0.97


def test_boundary_on_synthetic_scores_matches_the_planted_normal():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 8, generator=gen)
    normal = torch.nn.functional.normalize(torch.randn(8, generator=gen), dim=0)
    b = train_boundary(z, z @ normal + 0.05 * torch.randn(4000, generator=gen), ratio=0.05)
    assert torch.dot(b.normal, normal).item() > 0.97 and b.n_train == 2 * 140 and b.n_val == 2 * 60


# ---------------------------------------------------------------------------------------- project_orthogonal
def test_project_orthogonal_known_answers():
    p = torch.tensor([1.0, 1.0, 0.0])
    assert project_orthogonal(p, torch.tensor([[1.0, 0.0, 0.0]])).tolist() == pytest.approx([0, 1, 0])
    # two non-orthogonal conditions: the result is orthogonal to both (InterFaceGAN's closed form)
    c = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    n = project_orthogonal(torch.tensor([1.0, 2.0, 3.0, 4.0]), c)
    assert n.tolist() == pytest.approx([0, 0, 0.6, 0.8], abs=1e-6)
    # many conditions, as a list
    gen = torch.Generator().manual_seed(1)
    conds = [torch.randn(10, generator=gen) for _ in range(4)]
    n = project_orthogonal(torch.randn(10, generator=gen), conds)
    assert torch.stack(conds) @ n == pytest.approx(torch.zeros(4), abs=1e-5) and n.norm().item() == pytest.approx(1)


def test_project_orthogonal_refuses_a_vanishing_result_and_bad_shapes():
    with pytest.raises(ConditionVanishedError, match="lies in their span"):
        project_orthogonal(torch.tensor([1.0, 1.0, 0.0]), torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
    with pytest.raises(ConditionVanishedError):
        project_orthogonal(torch.tensor([0.0, 3.0]), torch.tensor([0.0, -1.0]))  # parallel
    with pytest.raises(ValueError, match=r"expected conditions of shape \[K, 3\] for a primal of shape \[3\], got \[1, 4\]"):
        project_orthogonal(torch.ones(3), torch.ones(1, 4))
    with pytest.raises(ValueError, match="zero"):
        project_orthogonal(torch.zeros(3), torch.ones(1, 3))
    with pytest.raises(ValueError, match=r"condition\(s\) \[1\] are zero"):
        project_orthogonal(torch.ones(3), torch.tensor([[1.0, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="NaN"):
        project_orthogonal(torch.tensor([1.0, float("nan")]), torch.ones(1, 2))


# ---------------------------------------------------------------------------------------- bad input
def test_sefa_on_a_generator_without_a_first_linear_layer_is_explained():
    with pytest.raises(MethodNotApplicableError, match=r"SeFa needs the weight that first acts on the latent, "
                                                       r"and toy-blob \(BlobGenerator\) exposes none; a generator "
                                                       r"gives it with a latent_weight\(space, layers\) method"):  # fmt: skip
        sefa(BlobGenerator())


def test_ganspace_bad_inputs(toy):
    with pytest.raises(MethodNotApplicableError, match="toy-planted has no layer 'second'; some known: first"):
        ganspace(toy, n_samples=100, feature="second")
    with pytest.raises(MethodNotApplicableError, match="needs the network in G.net"):
        ganspace(BlobGenerator(), n_samples=100, feature="first")
    with pytest.raises(ValueError, match="n_samples >= 2"):
        ganspace(toy, n_samples=1)
    with pytest.raises(MethodNotApplicableError, match="layers apply to the w/w\\+ spaces"):
        sefa(toy, layers=[0])


def test_scorers_with_the_wrong_shape_or_nan_are_refused(toy):
    with pytest.raises(ScorerError, match=r"smile returned scores of shape \[500, 2\]; expected \[500\]"):
        interfacegan(toy, lambda x: torch.zeros(len(x), 2), n_samples=1000, name="smile")
    with pytest.raises(ScorerError, match="returned NaN or infinite scores for 500 of 500 images"):
        interfacegan(toy, lambda x: torch.full((len(x),), float("nan")), n_samples=1000)
    with pytest.raises(ScorerError, match="dtype"):
        interfacegan(toy, lambda x: ["a"] * len(x), n_samples=1000)
    with pytest.raises(ValueError, match="do not separate"):
        interfacegan(toy, lambda x: torch.ones(len(x)), n_samples=1000)
    with pytest.raises(ValueError, match=r"ratio must lie in \(0, 0.5\]"):
        train_boundary(torch.randn(100, 3), torch.randn(100), ratio=0)
    with pytest.raises(ValueError, match=r"expected latents of shape \[N, D\]"):
        train_boundary(torch.randn(100), torch.randn(100))


def test_factorize_known_answer_and_bad_weights():
    a = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 2.0]])  # rows normalised: e1 once, e2 twice
    values, vectors = factorize(a)
    assert values.tolist() == pytest.approx([2.0, 1.0]) and vectors.abs().flatten().tolist() == pytest.approx([0, 1, 1, 0])
    with pytest.raises(ValueError, match="zero row"):
        factorize(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"expected a weight of shape \[out, D\]"):
        factorize(torch.ones(3))


# ---------------------------------------------------------------------------------------- the real families
def test_sefa_and_ganspace_on_the_beta_vae(bvae, tmp_path):
    A = latent_weight(bvae, "z")
    assert A.shape == (256, 10)
    res = sefa(bvae, n_components=3)
    assert len(res.directions) == 3 and res.eigenvalues[0] >= res.eigenvalues[1] >= res.eigenvalues[2]
    path = res.directions[0].save(tmp_path / "sefa.safetensors")
    back = load_direction(path)
    assert back.method == "sefa" and back.model == "bvae-dsprites" and back.meta["eigenvalue"] == pytest.approx(
        float(res.eigenvalues[0]))  # fmt: skip
    gs = ganspace(bvae, n_samples=600, n_components=4)
    assert gs.feature == "decoder_fc" and gs.info["feature_width"] == 512 and len(gs.directions) == 4


def _tiny_stylegan2():
    from latentnav.generators import stylegan2

    net = stylegan2.random_init_(stylegan2.StyleGAN2(z_dim=16, w_dim=16, c_dim=0, img_resolution=16, img_channels=3,
                                                     mapping_kwargs={"num_layers": 2},
                                                     synthesis_kwargs={"channel_base": 256, "channel_max": 32}))  # fmt: skip
    return stylegan2.StyleGAN2Generator(net, name="sg2-tiny", device="cpu")


def test_sefa_on_stylegan2_layers_gives_w_plus_directions_on_those_layers():
    G = _tiny_stylegan2()
    assert G.num_ws == 6 and len(stylegan2_style_layers(G.net)) == 6
    full = sefa(G, "w")
    assert full.directions[0].space == "w" and full.weight_shape[1] == 16
    coarse = sefa(G, "w", layers=[0, 1])
    d = coarse.directions[0]
    assert d.space == "w+" and d.layers == (0, 1)
    u = d.u.view(6, 16)
    assert u[2:].abs().max() == 0 and u[0].norm() > 0
    assert coarse.weight_shape[0] == sum(m.affine.weight.shape[0] for m in stylegan2_style_layers(G.net)[:2])
    with pytest.raises(BadInputError, match=r"W\+ layer\(s\) \[7\] out of range: this generator has layers 0-5"):
        sefa(G, "w", layers=[7])
    gs = ganspace(G, "w", n_samples=300, n_components=3)
    assert gs.feature is None and gs.directions[0].space == "w" and gs.generator_evals == 0
    assert ganspace(G, "w+", n_samples=300, n_components=2, layers=[3, 4, 5]).directions[0].layers == (3, 4, 5)


def test_sefa_on_biggan_reads_the_z_columns_of_the_first_linear():
    from latentnav.generators import biggan

    config = biggan.BigGANConfig(z_dim=8, class_embed_dim=8, num_classes=5, channel_width=2, output_dim=8,
                                 layers=[(False, 16, 8), (False, 8, 4), (False, 4, 2), (True, 2, 1)],
                                 attention_layer_position=2)  # fmt: skip
    net = biggan.build(config, biggan.random_checkpoint(config, seed=0))
    G = biggan.BigGANGenerator(net, name="biggan-tiny", device="cpu")
    A = latent_weight(G, "z")
    assert A.shape == (4 * 4 * 16 * 2, 8)
    assert torch.equal(A, net.generator.gen_z.weight[:, :8])
    assert len(sefa(G).directions) == 8
    assert np.isfinite(ganspace(G, n_samples=200, n_components=2).explained_variance_ratio).all()
