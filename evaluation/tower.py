"""Fitting a question tower (qa_service.qa.tower) with torch: MiniLM's forward pass with low-rank
updates on every layer's six matrices, the stock weights frozen, trained with AdamW on

    loss(q) = -log sum_{i in positives(q)} softmax(tau * cos(tower(q), c))_i

over each question's candidates c (frozen stock sentence vectors). With `null` on, the softmax has
one more option, "no candidate answers", whose logit is tau * b (b a fitted cosine level); an
unanswerable question's target is that option, so the tower learns to keep such questions away
from every sentence of their report (the answerability model reads the cosines). Training only:
answering runs the merged weights in NumPy. torch comes with the `train` extra (its CPU build is enough: a fit over
1,250 questions takes about a minute on 2 cores).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from qa_service.index.semantic import pad_ids, read_minilm
from qa_service.qa.tower import MODULES, QuestionTower


def fit_tower(texts: Sequence[str], cands: Sequence[np.ndarray], ys: Sequence[np.ndarray],
              tower: QuestionTower | None = None, unanswerable: Sequence[bool] | None = None) -> QuestionTower:
    """Fit `tower`'s factors (a new QuestionTower with default parameters when None) on questions
    as analysed (`texts`), their candidates' unit vectors and positives; answerable questions
    without a positive candidate carry no signal and are skipped. `unanswerable` flags the
    questions the report does not answer (targets of the null option when tower.null is on)."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("fitting a question tower needs torch: pip install -e '.[train]'") from e
    tower = tower or QuestionTower()
    null = set() if unanswerable is None or not tower.null else \
        {i for i, u in enumerate(unanswerable) if u and len(ys[i])}
    keep = [i for i, y in enumerate(ys) if len(y) and (np.asarray(y).any() or i in null)]
    torch.manual_seed(tower.seed)
    net = TorchTower(tower.alpha / tower.rank)
    A = {k: torch.nn.Parameter(torch.randn(tower.rank, n) * tower.init_scale) for k, (_, n) in net.shapes.items()}
    B = {k: torch.nn.Parameter(torch.zeros(o, tower.rank)) for k, (o, _) in net.shapes.items()}
    net.A, net.B = A, B
    names = list(net.shapes)

    C = {i: torch.from_numpy(np.asarray(cands[i], np.float32)) for i in keep}
    Y = {i: torch.from_numpy(np.asarray(ys[i], bool)) for i in keep}
    level = torch.nn.Parameter(torch.tensor(0.5))  # the null option's cosine level b
    params = [*A.values(), *B.values(), *([level] if null else [])]
    opt = torch.optim.AdamW(params, lr=tower.lr, weight_decay=tower.weight_decay)
    steps = tower.epochs * math.ceil(len(keep) / tower.batch_size)
    # linear warm-up, then linear decay to 0
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / tower.warmup) * max(0.0, 1 - s / steps))
    rng = np.random.default_rng(tower.seed)
    for _ in range(tower.epochs):
        order = [keep[j] for j in rng.permutation(len(keep))]
        for b in range(0, len(order), tower.batch_size):
            sub = order[b:b + tower.batch_size]
            U = net.encode([texts[i] for i in sub])
            loss = sum(question_loss(tower.tau * (C[i] @ u), Y[i], i in null, tower.tau * level if null else None)
                       for u, i in zip(U, sub)) / len(sub)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    factors = {k: (A[k].detach().numpy().copy(), B[k].detach().numpy().copy()) for k in names}
    return tower.set_factors(factors, len(keep) - len(null), n_unanswerable=len(null))


class TorchTower:
    """MiniLM's forward pass in torch (autograd for fitting) with low-rank updates on every layer's
    MODULES: W x + b + scale * B (A x). Factors `A`, `B` (name -> tensor) are set by the caller;
    until then the pass is the stock encoder's. Mirrors MiniLMEncoder, the NumPy pass that serves."""

    def __init__(self, scale: float):
        import torch

        files = read_minilm()
        self.n_layers, self.n_heads, self.eps = files.n_layers, files.n_heads, files.eps
        self.W = {k: torch.from_numpy(v) for k, v in files.weights.items()}
        self.tok = files.tokenizer
        self.scale = scale
        # (out, in) of each updated matrix, by module name
        self.shapes = {k: tuple(self.W[k + ".weight"].shape)
                       for k in (f"encoder.layer.{i}.{m}" for i in range(self.n_layers) for m in MODULES)}
        self.A: dict = {}
        self.B: dict = {}

    def _lin(self, k, x):
        out = x @ self.W[k + ".weight"].T + self.W[k + ".bias"]
        return out + (x @ self.A[k].T) @ self.B[k].T * self.scale if k in self.A else out

    def _forward(self, ids, mask):
        import torch.nn.functional as F

        W, n_heads, eps = self.W, self.n_heads, self.eps
        n, L = ids.shape
        D = W["embeddings.word_embeddings.weight"].shape[1]
        dh = D // n_heads
        x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:L]
             + W["embeddings.token_type_embeddings.weight"][0])
        x = F.layer_norm(x, (D,), W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._lin(p + f"attention.self.{m}", x).view(n, L, n_heads, dh).transpose(1, 2)
                       for m in ("query", "key", "value"))
            att = ((q @ k.transpose(-1, -2)) / math.sqrt(dh) + bias).softmax(-1)
            ctx = (att @ v).transpose(1, 2).reshape(n, L, D)
            x = F.layer_norm(x + self._lin(p + "attention.output.dense", ctx), (D,),
                             W[p + "attention.output.LayerNorm.weight"], W[p + "attention.output.LayerNorm.bias"], eps)
            h = F.gelu(self._lin(p + "intermediate.dense", x))
            x = F.layer_norm(x + self._lin(p + "output.dense", h), (D,),
                             W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
        m = mask[:, :, None]
        return F.normalize((x * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    def encode(self, texts: Sequence[str]):
        """Unit vectors (len(texts), dim), a torch tensor that carries gradients to the factors."""
        import torch

        ids, mask = pad_ids(self.tok.encode_batch(list(texts)))
        return self._forward(torch.from_numpy(ids), torch.from_numpy(mask))


def question_loss(z, y, unanswerable: bool, null_logit=None):
    """-log P(the target) under softmax over the candidates' logits z (plus the null option's
    logit when given): the positives' total share, or the null option's for an unanswerable question."""
    import torch

    full = z if null_logit is None else torch.cat([z, null_logit.reshape(1)])
    target = null_logit if unanswerable else torch.logsumexp(z[y], 0)
    return torch.logsumexp(full, 0) - target
