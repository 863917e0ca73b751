"""Training: model registry, checkpoints, the fine-tuning loop and evaluation.

:mod:`~harlab.train.config` (``TrainConfig``), :mod:`~harlab.train.data` (frames for
training), :mod:`~harlab.train.fit` (``train``, ``fit``, ``train_one_epoch``, ``validate``),
:mod:`~harlab.train.evaluate`, :mod:`~harlab.train.models`, :mod:`~harlab.train.checkpoint` and
:mod:`~harlab.train.inference` (batched prediction shared with the attack stage).
"""
