"""The mathematics (layer ``core``, the bottom): models (HMM, memory HMM), exact-in-float64
inference (THEORY §2), the conditions C-HEAD / C-HEAD(μ) / C-PROMPT(μ) / C-MEM (§5), the
task's input set 𝒮 (§3, :mod:`.task`), the paper's random generator (§8,
:mod:`.generator`) and input validation. Imports nothing else of ptverify."""
