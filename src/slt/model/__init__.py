"""The model layer: labels (the net return of the trade the system would make), datasets,
reproducible XGBoost training in a memory-capped process, walk-forward evaluation with
purging, the model registry and the schema-checked predictor.

Modules: `labels`, `dataset`, `features` (the schema the model is bound to), `train`,
`walkforward`, `metrics`, `worker`, `pipeline`, `registry`, `predictor`, `service`, `config`.
Import from the modules; this package file stays light so importing `slt.model.labels`
does not load XGBoost.
"""
