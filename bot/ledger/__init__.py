"""The spend ledger: tables, migrations, budget reservations and the bot's shared state.

Modules: ``engine`` (URLs, engines, transactions, migrations), ``tables`` (SQLModel tables),
``budgets`` (:class:`BudgetLedger`: reserve / settle / release / recover, budgets), ``deliveries``
(Slack delivery dedupe), ``threads`` (threads, their images, pending uploads), ``alerts`` (alerts
that fire once, budget increase requests), ``requests`` (generation requests), ``months``.

Errors (all in ``bot.ledger.errors``)::

    LedgerError
    ├── SchemaTooNew
    ├── SchemaNotReady
    ├── UnknownReservation
    └── UnknownIncreaseRequest
"""

from bot.ledger.alerts import AlertStore, Decision, IncreaseRequest, IncreaseState
from bot.ledger.budgets import (
    BudgetLedger,
    BudgetSetting,
    EntryIn,
    Refused,
    ReservationState,
    Reserved,
    Settled,
)
from bot.ledger.deliveries import DeliveryStore
from bot.ledger.engine import (
    SchemaStatus,
    async_url,
    check_schema,
    downgrade,
    head_revision,
    make_engine,
    transaction,
    upgrade,
)
from bot.ledger.errors import (
    LedgerError,
    SchemaNotReady,
    SchemaTooNew,
    UnknownIncreaseRequest,
    UnknownReservation,
)
from bot.ledger.months import month_bounds, month_key, parse_month
from bot.ledger.requests import RequestInfo, RequestState, RequestStore
from bot.ledger.tables import WORKSPACE_SCOPE
from bot.ledger.threads import (
    ImageKind,
    PendingUploadInfo,
    ThreadImageInfo,
    ThreadInfo,
    ThreadStore,
)

__all__ = [
    "WORKSPACE_SCOPE",
    "AlertStore",
    "BudgetLedger",
    "BudgetSetting",
    "Decision",
    "DeliveryStore",
    "EntryIn",
    "ImageKind",
    "IncreaseRequest",
    "IncreaseState",
    "LedgerError",
    "PendingUploadInfo",
    "Refused",
    "RequestInfo",
    "RequestState",
    "RequestStore",
    "ReservationState",
    "Reserved",
    "SchemaNotReady",
    "SchemaStatus",
    "SchemaTooNew",
    "Settled",
    "ThreadImageInfo",
    "ThreadInfo",
    "ThreadStore",
    "UnknownIncreaseRequest",
    "UnknownReservation",
    "async_url",
    "check_schema",
    "downgrade",
    "head_revision",
    "make_engine",
    "month_bounds",
    "month_key",
    "parse_month",
    "transaction",
    "upgrade",
]
