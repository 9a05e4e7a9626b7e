"""LandscapeSpec: a frozen, hashable description of a landscape that jobs rebuild.

Jobs run on worker threads and get plain data, never the GUI's objects. A spec
names a built-in function (with its parameter values) or a typed formula (its
text, its parameter declarations and their values, and the domain it is shown
on), and :meth:`LandscapeSpec.make` builds the Landscape from it. Formulas
are compiled once per text (cached), so rebuilding on every slider move is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lossviewer.core.functions import make_landscape
from lossviewer.core.landscape import Domain, Landscape

#: the function key that means "the typed formula"
FORMULA = "formula"
#: the function key of a neural-network slice (core.network_landscape)
NETWORK = "network"


@dataclass(frozen=True)
class LandscapeSpec:
    function: str
    params: tuple[tuple[str, float], ...] = ()
    #: for function == FORMULA: the expression and the parameter declarations
    formula: str = ""
    declarations: str = ""
    #: the domain shown (formulas have no default of their own)
    domain: Domain | None = None
    #: for function == NETWORK: the NetworkSlice (immutable; compared by identity)
    network: Any = None

    @classmethod
    def create(cls, function: str, params: dict[str, float] | None = None, formula: str = "",
               declarations: str = "", domain: Domain | None = None,
               network: Any = None) -> LandscapeSpec:
        items = tuple(sorted((str(k), float(v)) for k, v in (params or {}).items()))
        dom = None
        if domain is not None:
            (x0, x1), (y0, y1) = domain
            dom = ((float(x0), float(x1)), (float(y0), float(y1)))
        if function != FORMULA:  # a built-in has its own domain and no text
            formula, declarations, dom = "", "", None
        if function != NETWORK:
            network = None
        elif network is None:
            raise ValueError("no network slice to show: train a network first")
        return cls(str(function), items, str(formula), str(declarations), dom, network)

    @property
    def is_formula(self) -> bool:
        return self.function == FORMULA

    @property
    def is_network(self) -> bool:
        return self.function == NETWORK

    def make(self) -> Landscape:
        """Build the landscape; bad formulas or parameters raise ValueError."""
        params: dict[str, Any] = dict(self.params)
        if self.is_network:
            from lossviewer.core.network_landscape import NetworkLandscape

            return NetworkLandscape(self.network)
        if self.is_formula:
            from lossviewer.core.formula import FormulaLandscape  # sympy: only when used

            return FormulaLandscape(self.formula, self.declarations, domain=self.domain,
                                    **params)
        return make_landscape(self.function, **params)
