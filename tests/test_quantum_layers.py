"""QuantumEmbeddings, collapse strategies, EntanglementLayer and parameter roles."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from qembed import plugins
from qembed.nn import (
    EntanglementLayer,
    QuantumEmbeddings,
    QuantumOutput,
    entanglement_entropy,
    mark,
    role_of,
    set_collapse_probability,
)

from qembed.nn.entanglement import pair_summary
from qembed.nn.measures import masked_mean

STRATEGIES = ["context_aware", "argmax", "sample", "gumbel"]


def batch(vocab: int = 40, size: int = 8, length: int = 12, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (size, length), generator=generator)
    mask = torch.ones(size, length, dtype=torch.long)
    mask[0, length // 2 :] = 0
    return ids, mask


def test_built_in_collapse_strategies_are_registered():
    assert set(STRATEGIES) <= set(plugins.available("collapse"))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_at_collapse_probability_zero_nothing_collapses_and_eval_is_deterministic(strategy):
    torch.manual_seed(0)
    layer = QuantumEmbeddings(40, 16, 4, strategy)
    ids, mask = batch()
    set_collapse_probability(layer, 0.0)
    out = layer(ids, mask)
    assert not out.collapsed.any()
    assert torch.equal(out.weights, out.probabilities)
    layer.eval()
    assert torch.equal(layer(ids, mask).embeddings, layer(ids, mask).embeddings)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_at_collapse_probability_one_every_real_token_is_one_hot(strategy):
    torch.manual_seed(0)
    layer = QuantumEmbeddings(40, 16, 4, strategy)
    ids, mask = batch()
    set_collapse_probability(layer, 1.0)
    out = layer(ids, mask)
    real = mask.bool()
    assert out.collapsed.equal(real)
    weights = out.weights[real]
    assert ((weights == 0) | (weights == 1)).all() and (weights.sum(-1) == 1).all()


def test_observed_collapse_rate_matches_the_probability():
    torch.manual_seed(1)
    layer = QuantumEmbeddings(40, 8, 4, "argmax")
    ids = torch.randint(0, 40, (200, 100))
    set_collapse_probability(layer, 0.3)
    rate = layer(ids).collapsed.float().mean().item()
    n = ids.numel()
    # 5 standard deviations of a binomial(n, 0.3): a false alarm below 1e-6
    assert abs(rate - 0.3) < 5 * math.sqrt(0.3 * 0.7 / n)


def test_collapse_gradient_reaches_the_amplitudes_through_the_straight_through_estimator():
    torch.manual_seed(0)
    layer = QuantumEmbeddings(40, 16, 4, "context_aware")
    ids, mask = batch()
    set_collapse_probability(layer, 1.0)
    layer(ids, mask).embeddings.pow(2).sum().backward()
    assert layer.sense_amplitudes.grad.abs().sum() > 0
    assert layer.context_projection.weight.grad.abs().sum() > 0


def test_context_aware_collapse_ignores_masked_tokens():
    torch.manual_seed(0)
    layer = QuantumEmbeddings(40, 16, 4, "context_aware").eval()
    ids, mask = batch()
    changed = ids.clone()
    changed[0, 6:] = (ids[0, 6:] + 7) % 40  # only masked positions of row 0 change
    before, after = layer(ids, mask), layer(changed, mask)
    assert torch.equal(before.weights[0, :6], after.weights[0, :6])
    assert torch.equal(before.embeddings[0, :6], after.embeddings[0, :6])


def test_context_window_limits_the_context():
    torch.manual_seed(0)
    layer = QuantumEmbeddings(40, 16, 4, "context_aware", context_window=1).eval()
    ids = torch.randint(0, 40, (1, 10))
    changed = ids.clone()
    changed[0, 9] = (ids[0, 9] + 1) % 40
    # position 0 sees only position 1: a change at position 9 cannot reach it
    assert torch.equal(layer(ids).weights[0, :8], layer(changed).weights[0, :8])


def test_collapse_strategy_options_are_validated():
    with pytest.raises(ValueError, match="temperature"):
        QuantumEmbeddings(10, 4, 2, {"name": "gumbel", "temperature": 0})
    with pytest.raises(KeyError, match="did you mean 'argmax'"):
        QuantumEmbeddings(10, 4, 2, "argmx")


@pytest.mark.parametrize(("length", "mask_row"), [(9, None), (12, 5)])
def test_sparse_entanglement_with_all_partners_equals_dense(length, mask_row):
    torch.manual_seed(0)
    dense = EntanglementLayer(16, 4, mode="dense")
    sparse = EntanglementLayer(16, 4, mode="sparse", top_k=length, chunk_size=4)
    sparse.load_state_dict(dense.state_dict())
    hidden = torch.randn(3, length, 16)
    amplitudes = nn.functional.normalize(torch.randn(3, length, 4), dim=-1)
    mask = torch.ones(3, length, dtype=torch.bool)
    if mask_row is not None:
        mask[1, mask_row:] = False
    hidden.requires_grad_(), amplitudes.requires_grad_()
    d, s = dense(hidden, amplitudes, mask), sparse(hidden, amplitudes, mask)
    assert torch.allclose(d.hidden_states, s.hidden_states, atol=1e-5)
    dense_values = d.entanglement.gather(-1, s.partners)
    assert torch.allclose(dense_values[s.pair_mask], s.entanglement[s.pair_mask], atol=1e-6)
    # and the same gradients (sparse mode recomputes its chunks of rows in backward)
    weights = torch.randn_like(hidden)
    grads = [torch.autograd.grad((out.hidden_states * weights).sum() + (entanglement * s.pair_mask).sum(),
                                 [hidden, amplitudes, *layer.parameters()])
             for out, layer, entanglement in ((d, dense, dense_values), (s, sparse, s.entanglement))]
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(*grads))


def test_sparse_mode_keeps_top_k_real_partners_and_never_the_token_itself():
    torch.manual_seed(0)
    layer = EntanglementLayer(16, 4, mode="sparse", top_k=3)
    hidden, amplitudes = torch.randn(2, 10, 16), nn.functional.normalize(torch.randn(2, 10, 4), dim=-1)
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[0, 7:] = False
    out = layer(hidden, amplitudes, mask)
    assert out.entanglement.shape == (2, 10, 3)
    own = torch.arange(10).view(1, 10, 1)
    assert not (out.pair_mask & (out.partners == own)).any()
    assert (out.partners[0][:7] < 7).all()  # real tokens pick real partners


def test_pair_entanglement_is_the_entropy_of_the_explicit_joint_states():
    torch.manual_seed(0)
    layer = EntanglementLayer(16, 4)
    hidden, amplitudes = torch.randn(2, 6, 16), nn.functional.normalize(torch.randn(2, 6, 4), dim=-1)
    out = layer(hidden, amplitudes)
    psi = layer.joint_states(hidden, amplitudes, out.partners)
    assert torch.allclose(torch.linalg.matrix_norm(psi), torch.ones(2, 6, 6), atol=1e-5)
    assert torch.allclose(entanglement_entropy(psi), out.entanglement, atol=1e-4)


def test_entanglement_mixes_information_between_positions():
    torch.manual_seed(0)
    layer = EntanglementLayer(16, 4)
    hidden, amplitudes = torch.randn(1, 5, 16), nn.functional.normalize(torch.randn(1, 5, 4), dim=-1)
    changed = hidden.clone()
    changed[0, 4] += 1.0
    assert not torch.allclose(layer(hidden, amplitudes).hidden_states[0, 0],
                              layer(changed, amplitudes).hidden_states[0, 0])


def test_layers_tag_their_parameters_with_roles_that_survive_deepcopy():
    layer = QuantumEmbeddings(10, 4, 2)
    ent = EntanglementLayer(4, 2)
    for module in (layer, ent, copy.deepcopy(layer), copy.deepcopy(ent)):
        roles = {name: role_of(p) for name, p in module.named_parameters()}
        if isinstance(module, QuantumEmbeddings):
            assert roles == {"token_embeddings": None, "sense_embeddings": None, "sense_amplitudes": "superposition",
                             "context_projection.weight": "collapse"}
        else:
            assert set(roles.values()) == {"entanglement"}


def test_mark_rejects_unknown_roles():
    with pytest.raises(ValueError, match="unknown parameter role 'quantumish'"):
        mark(nn.Parameter(torch.zeros(1)), "quantumish")


def test_set_collapse_probability_reaches_layers_nested_anywhere():
    inner = QuantumEmbeddings(10, 4, 2)
    model = nn.ModuleDict({"encoder": nn.Sequential(nn.Identity(), inner), "other": QuantumEmbeddings(10, 4, 2)})
    assert set_collapse_probability(model, 0.7) == 2
    assert inner.collapse_probability.item() == pytest.approx(0.7)
    assert set_collapse_probability(model, torch.tensor(0.2)) == 2
    assert inner.collapse_probability.item() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="collapse probability must be in"):
        set_collapse_probability(model, 1.5)


def test_quantum_output_reads_like_a_mapping():
    out = QuantumOutput(logits=torch.zeros(2, 3), uncertainty=torch.zeros(2))
    assert out["logits"] is out.logits
    assert list(out.keys()) == ["logits", "uncertainty"]
    with pytest.raises(KeyError, match="no field 'logit'"):
        out["logit"]


def test_memory_efficient_dense_mixes_the_same_and_reports_per_token_means_and_mean_squares():
    torch.manual_seed(0)
    dense = EntanglementLayer(16, 4, mode="dense")
    chunked = EntanglementLayer(16, 4, mode="dense", memory_efficient=True, chunk_size=3)
    chunked.load_state_dict(dense.state_dict())
    hidden = torch.randn(2, 8, 16, requires_grad=True)
    amplitudes = nn.functional.normalize(torch.randn(2, 8, 4), dim=-1)
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 5:] = False
    results = []
    for layer in (dense, chunked):
        layer.zero_grad()
        hidden.grad = None
        out = layer(hidden, amplitudes, mask)
        out.hidden_states.square().mean().backward()
        results.append((out, hidden.grad.clone(), {n: p.grad.clone() for n, p in layer.named_parameters()}))
    (d, d_input, d_params), (c, c_input, c_params) = results
    assert torch.allclose(d.hidden_states, c.hidden_states, atol=1e-6)
    assert c.entanglement.shape == c.pair_mask.shape == (2, 16, 1)  # rows :T per-token means, T: mean squares
    counts = d.pair_mask.sum(-1)
    per_token = (d.entanglement * d.pair_mask).sum(-1) / counts.clamp_min(1)
    squares = (d.entanglement.square() * d.pair_mask).sum(-1) / counts.clamp_min(1)
    assert torch.allclose(per_token, c.entanglement[:, :8, 0], atol=1e-6)
    assert torch.allclose(squares, c.entanglement[:, 8:, 0], atol=1e-6)
    assert torch.equal(c.pair_mask[:, :8, 0], d.pair_mask.any(-1)) and not c.pair_mask[:, 8:].any()
    means, mean_squares, partner_counts = pair_summary(c.entanglement, c.pair_mask, 8)
    assert torch.equal(partner_counts, counts) and torch.equal(means, c.entanglement[:, :8, 0])
    assert pair_summary(d.entanglement, d.pair_mask, 8) is None  # per-pair values are not a summary
    # the pair means every consumer takes are dense mode's: per example, and over the batch
    torch.testing.assert_close(masked_mean(c.entanglement, c.pair_mask, dim=(-2, -1)),
                               masked_mean(d.entanglement, d.pair_mask, dim=(-2, -1)))
    torch.testing.assert_close((partner_counts * means).sum() / partner_counts.sum(),
                               masked_mean(d.entanglement.reshape(-1), d.pair_mask.reshape(-1)))
    assert torch.allclose(d_input, c_input, atol=1e-6)  # the recomputed chunks give the same gradients
    for name, gradient in d_params.items():
        assert torch.allclose(gradient, c_params[name], atol=1e-6), name


def test_sequential_collapse_gives_the_batched_result_and_gradients():
    torch.manual_seed(0)
    layer = QuantumEmbeddings(40, 16, 4, "context_aware")
    set_collapse_probability(layer, 0.5)
    ids, mask = batch()
    results = []
    for sequential in (False, True):
        layer.sequential = sequential
        layer.zero_grad()
        torch.manual_seed(7)  # the same draws either way
        out = layer(ids, mask)
        out.embeddings.square().sum().backward()
        results.append((out, {n: p.grad.clone() for n, p in layer.named_parameters()}))
    (batched, batched_grads), (sequential_out, sequential_grads) = results
    assert torch.equal(batched.collapsed, sequential_out.collapsed)
    assert torch.allclose(batched.embeddings, sequential_out.embeddings, atol=1e-6)
    for name, gradient in batched_grads.items():
        assert torch.allclose(gradient, sequential_grads[name], atol=1e-5), name


def test_check_collapse_refuses_a_strategy_that_changes_the_mask_in_place():
    from qembed.nn import CollapseStrategy
    from qembed.testing import check_collapse

    class SoftButMaskEating(CollapseStrategy):
        def forward(self, probabilities, agreement, attention_mask):
            attention_mask.zero_()
            return probabilities * 1.0

    class Soft(CollapseStrategy):
        def forward(self, probabilities, agreement, attention_mask):
            return probabilities * 1.0

    check_collapse(Soft, max_examples=20)
    with pytest.raises(AssertionError, match="changed the mask in place"):
        check_collapse(SoftButMaskEating, max_examples=20)


def _layer_pass(layer, hidden, amplitudes, mask):
    layer.zero_grad()
    hidden.grad = None
    out = layer(hidden, amplitudes, mask)
    (out.hidden_states.square().mean() + (out.entanglement * out.pair_mask).sum()).backward()
    return out, hidden.grad.clone(), {name: p.grad.clone() for name, p in layer.named_parameters()}


def test_auto_mode_is_dense_below_the_crossover_and_sparse_from_it():
    from qembed.nn.entanglement import AUTO_SPARSE_FROM

    assert 24 < AUTO_SPARSE_FROM  # the embedded corpus's sentences (<= 24 tokens) stay dense
    torch.manual_seed(0)
    layers = {mode: EntanglementLayer(8, 3, mode=mode, top_k=5) for mode in ("auto", "dense", "sparse")}
    for mode in ("dense", "sparse"):
        layers[mode].load_state_dict(layers["auto"].state_dict())  # the same parameters for both paths
    assert layers["auto"].mode_for(AUTO_SPARSE_FROM - 1) == "dense" and layers["auto"].mode_for(AUTO_SPARSE_FROM) == "sparse"
    for length, same in ((24, "dense"), (AUTO_SPARSE_FROM - 1, "dense"), (AUTO_SPARSE_FROM, "sparse")):
        hidden = torch.randn(2, length, 8, requires_grad=True)
        amplitudes = nn.functional.normalize(torch.randn(2, length, 3), dim=-1)
        mask = torch.ones(2, length, dtype=torch.bool)
        mask[1, length - 4:] = False
        (auto, auto_input, auto_params), (other, other_input, other_params) = (
            _layer_pass(layers[mode], hidden, amplitudes, mask) for mode in ("auto", same))
        for a, b in zip(auto, other):
            assert torch.equal(a, b), (length, same)
        assert torch.equal(auto_input, other_input)
        assert all(torch.equal(auto_params[name], other_params[name]) for name in auto_params)
    with pytest.raises(ValueError, match="'auto', 'dense', 'sparse'"):
        EntanglementLayer(8, 3, mode="chunked")


def test_dense_mode_in_blocks_of_query_rows_equals_one_block(monkeypatch):
    import qembed.nn.entanglement as entanglement_module

    torch.manual_seed(0)
    layer = EntanglementLayer(16, 4, mode="dense")
    hidden = torch.randn(2, 11, 16, requires_grad=True)
    amplitudes = nn.functional.normalize(torch.randn(2, 11, 4), dim=-1)
    mask = torch.ones(2, 11, dtype=torch.bool)
    mask[1, 7:] = False
    whole = _layer_pass(layer, hidden, amplitudes, mask)
    monkeypatch.setattr(entanglement_module, "DENSE_BLOCK_PAIRS", 2 * 11 * 3)  # blocks of 3 rows (and 2 last)
    blocks = _layer_pass(layer, hidden, amplitudes, mask)
    for a, b in zip(whole[0], blocks[0]):
        assert a.shape == b.shape and torch.allclose(a.float(), b.float(), atol=1e-6)
    assert torch.allclose(whole[1], blocks[1], atol=1e-6)
    assert all(torch.allclose(whole[2][name], blocks[2][name], atol=1e-6) for name in whole[2])


def test_sparse_mode_saves_no_token_by_token_matrix_for_backward():
    """Sparse mode's memory is O(T * top_k): what autograd keeps for backward is per token
    (hidden states, amplitudes, pairs), never a chunk's [B, rows, T] scores (a gather saves
    its whole input, so the chunks are recomputed in backward)."""
    torch.manual_seed(0)
    batch, length, dim = 2, 256, 8
    layer = EntanglementLayer(dim, 4, mode="sparse", top_k=4, chunk_size=128)
    hidden = torch.randn(batch, length, dim, requires_grad=True)
    amplitudes = nn.functional.normalize(torch.randn(batch, length, 4), dim=-1)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda tensor: saved.append(tensor.numel()) or tensor,
                                                  lambda tensor: tensor):
        out = layer(hidden, amplitudes)
    assert max(saved) <= batch * length * dim
    out.hidden_states.sum().backward()
    assert hidden.grad is not None and torch.isfinite(hidden.grad).all()
