import numpy as np
import torch

from leafcount.model.loss import labels_to_masks, matching_loss, soft_iou


def _case(seed=0, steps=5, leaves=3, size=(12, 13)):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(steps, *size, generator=g, requires_grad=True)
    scores = torch.randn(steps, generator=g, requires_grad=True)
    truth = (torch.rand(leaves, *size, generator=g) > 0.7).float()
    return logits, scores, truth


def test_soft_iou_of_binary_masks_is_iou():
    a = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    b = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    assert torch.allclose(soft_iou(a, b), torch.tensor([[1 / 3, 1.0]]))


def test_loss_is_invariant_to_ground_truth_order():
    logits, scores, truth = _case()
    base = matching_loss(logits, scores, truth, pixel_weight=1.0)
    for perm in ([2, 0, 1], [1, 2, 0]):
        permuted = matching_loss(logits, scores, truth[perm], pixel_weight=1.0)
        assert torch.allclose(base.total, permuted.total)


def test_perfect_prediction_gets_minus_n_plus_confidence_only():
    truth = torch.zeros(2, 4, 4)
    truth[0, :2], truth[1, 2:] = 1, 1
    logits = (truth[[1, 0]] * 2 - 1) * 50  # the same leaves, in another order
    logits = torch.cat([logits, torch.full((2, 4, 4), -50.0)])
    scores = torch.tensor([50.0, 50.0, -50.0, -50.0])
    loss = matching_loss(logits, scores, truth)
    assert abs(float(loss.total) + 2.0) < 1e-4
    assert sorted(zip(loss.pred_index.tolist(), loss.truth_index.tolist())) == [(0, 1), (1, 0)]


def test_confidence_targets_are_one_for_the_first_n_steps():
    logits = torch.zeros(4, 3, 3)
    truth = torch.ones(2, 3, 3)
    right = matching_loss(logits, torch.tensor([20.0, 20.0, -20.0, -20.0]), truth)
    wrong = matching_loss(logits, torch.tensor([-20.0, -20.0, 20.0, 20.0]), truth)
    assert right.confidence < 1e-6 < 40 < wrong.confidence


def test_gradients_reach_masks_and_scores():
    logits, scores, truth = _case(seed=3)
    loss = matching_loss(logits, scores, truth, pixel_weight=1.0)
    loss.total.backward()
    assert logits.grad.abs().sum() > 0 and scores.grad.abs().sum() > 0
    unmatched = sorted(set(range(5)) - set(loss.pred_index.tolist()))
    assert logits.grad[unmatched].abs().sum() == 0  # only matched pairs carry IoU gradients


def test_no_leaves_only_confidence():
    logits, scores, _ = _case()
    loss = matching_loss(logits, scores, torch.zeros(0, 12, 13))
    assert loss.pred_index.size == 0 and loss.iou == 0.0
    assert torch.isclose(loss.total, torch.nn.functional.binary_cross_entropy_with_logits(
        scores, torch.zeros(5), reduction="sum"))


def test_labels_to_masks_skips_background_and_gaps():
    labels = np.array([[0, 3], [7, 3]])
    masks = labels_to_masks(labels)
    assert masks.shape == (2, 2, 2)
    assert masks[0].tolist() == [[0, 1], [0, 1]] and masks[1].tolist() == [[0, 0], [1, 0]]
