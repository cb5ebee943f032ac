"""Claims: THEORY.md §5 statements as properties of generated instances.

The registration API (:func:`claim`, :class:`Outcome`) is the same for built-in claims
(``verify.claims.head``, ``.prompt``, ``.memory``) and user claims loaded with
``ptverify run --claims-from MODULE``.
"""

from ._head_robust import head_robust_check
from .registry import (
    BUILTIN_ORDER,
    KINDS,
    PROFILES,
    Claim,
    Outcome,
    all_claims,
    claim,
    from_jsonable,
    get,
    load_builtin,
    load_claims_module,
    register,
    to_jsonable,
)

__all__ = [
    "BUILTIN_ORDER",
    "KINDS",
    "PROFILES",
    "Claim",
    "Outcome",
    "all_claims",
    "claim",
    "from_jsonable",
    "get",
    "head_robust_check",
    "load_builtin",
    "load_claims_module",
    "register",
    "to_jsonable",
]
