"""The study, end to end: a saved :class:`StudyConfig`, its stages, and what it exports.

:mod:`~harlab.study.config` (the configuration, demo and paper presets, YAML),
:mod:`~harlab.study.runner` (``run_study``: data, classifier, samples, queries, scores),
:mod:`~harlab.study.export` (``evaluation.csv``, ``evaluation.jsonl``, ``table3.csv``,
``summary.md``) and :mod:`~harlab.study.bundle` (``export_bundle`` and ``verify_bundle``).
"""
