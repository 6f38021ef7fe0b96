"""Budget figures as the planner sees them: what is consumed (settled + reserved) of how much."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["BUDGET_SCOPES", "BudgetState"]

#: The scopes a budget can have: one person's, or the whole workspace's.
BUDGET_SCOPES = ("user", "workspace")


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetState:
    """One budget this month: ``consumed_micros`` (settled + reserved) of ``budget_micros``.

    ``budget_micros`` None means unlimited. ``scope`` is ``"user"`` or ``"workspace"``.
    """

    consumed_micros: int
    budget_micros: int | None
    scope: str = "user"

    def __post_init__(self) -> None:
        if self.scope not in BUDGET_SCOPES:
            raise ValueError(f"BudgetState.scope must be 'user' or 'workspace', not {self.scope!r}")
        if self.consumed_micros < 0:
            raise ValueError("BudgetState.consumed_micros must not be negative")
        if self.budget_micros is not None and self.budget_micros < 0:
            raise ValueError("BudgetState.budget_micros must not be negative")

    @property
    def fraction(self) -> Decimal | None:
        """Consumed share of the budget as an exact Decimal (0.9 = 90%); None when unlimited.

        A zero budget counts as fully consumed.
        """
        if self.budget_micros is None:
            return None
        if self.budget_micros == 0:
            return Decimal(1)
        return Decimal(self.consumed_micros) / Decimal(self.budget_micros)

    @property
    def left_micros(self) -> int | None:
        """What is left to spend (never negative); None when unlimited."""
        if self.budget_micros is None:
            return None
        return max(0, self.budget_micros - self.consumed_micros)

    def fits(self, estimate_micros: int) -> bool:
        """Whether spending ``estimate_micros`` more stays within the budget."""
        if self.budget_micros is None:
            return True
        return self.consumed_micros + estimate_micros <= self.budget_micros
