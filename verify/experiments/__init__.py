"""The paper's experiments (layer ``experiments``, below ``bench`` and the CLI): a masked LM
pretrained on HMM text (:mod:`.mlm`), ``reproduce`` (§8's two experiments, oracle and
transformer) and ``sweep`` (phase diagrams over a grid). Nothing outside this layer, the
benchmarks and the CLI imports it (an import-linter contract)."""
