"""Checking a derivative against an oracle independent of matcalc's rules: one
implementation of every helper, used by the library and by the tests alike.

- :mod:`.sizes`: the concrete sizes a check instantiates (pairwise distinct, 3 and up,
  distinct from the sizes declared as numbers; the second, larger sizes), the variables
  and where they must be positive, what is too large to check.  Pure Python.
- :mod:`.result`: what a check found (:class:`~.result.CheckResult`) and its words.
  Pure Python.
- :mod:`.numeric`: NumPy random points, NumPy stand-ins for abstract functions, and
  fourth-order central finite differences.
- :mod:`.domains`: the numbers of the check — exact rationals (else reals) at a random
  rational point, or polynomials in the entries for a proof — and its scalar functions.
- :mod:`.jets`: exact derivatives by dual numbers over those numbers.
- :mod:`.sympy_oracle`: the SymPy elementwise oracle (exact, else at random rational
  points), in a forked, time-bounded child.
- :mod:`.verdict`: "is CLAIM the derivative?" — the verdict and, when the claim is
  wrong, the diagnosis in words.

The layering: this package depends on the nodes, the printers and the evaluator, and
:mod:`matcalc.api` on it, never the reverse.  Importing the package imports nothing
heavy; :mod:`.numeric` imports NumPy, :mod:`.domains`, :mod:`.jets`, :mod:`.sympy_oracle` and :mod:`.verdict` SymPy.
"""
