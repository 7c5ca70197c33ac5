"""The Greek alphabet, once: the letters, the names typed for them, their LaTeX commands.

Read by the declarations (Greek letters and names are scalars by default), the LaTeX
printer (``lambda`` → ``\\lambda``) and the LaTeX table reader (``\\lambda`` → ``λ``).
"""

from __future__ import annotations

#: LaTeX's Greek letter commands, by name (the capitals that look Latin have none)
LATEX_LETTERS: dict[str, str] = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
    "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
#: LaTeX's variant forms, read as the plain letter (\varepsilon is ε)
VARIANTS: dict[str, str] = {"varepsilon": "ε", "vartheta": "θ", "varrho": "ρ", "varphi": "φ"}

#: the names a user may type for a Greek letter (``lambda``, ``mu``, ``eps``), lowercase
NAMES = frozenset({n for n in LATEX_LETTERS if n.islower()} | set(VARIANTS) | {"omicron", "eps"})
#: lowercase Greek letters (and their variant forms, and ℓ): scalars by default
LOWER = "αβγδεζηθικλμνξοπρστυφχψωϵϑϕςℓ"
#: capital Greek letters: matrices by default
UPPER = "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"

#: a Greek letter's LaTeX command (``λ`` → ``\lambda``)
COMMANDS: dict[str, str] = {letter: "\\" + name for name, letter in LATEX_LETTERS.items()}
