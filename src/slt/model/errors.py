"""Errors of the model layer; each message says what the caller should do."""

from __future__ import annotations


class ModelError(Exception):
    """Base of the model layer's errors."""


class TrainingError(ModelError):
    """Training did not produce a model (too little data, out of memory, the child died...).

    The trading process keeps running with the model it has; the message says why and what to
    change (more data, a higher memory limit).
    """


class SchemaMismatchError(ModelError):
    """A model was trained on a different feature schema than the running code computes."""


class ModelNotFoundError(ModelError):
    """No model with that id is registered."""


class ModelIntegrityError(ModelError):
    """A registered model's file is missing or is not the file that was registered."""


class PromotionBlockedError(ModelError):
    """A model may not become champion: it was never checked, or a blocking check failed."""
