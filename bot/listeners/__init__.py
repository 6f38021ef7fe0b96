"""Slack listeners: thin handlers that acknowledge within 3 seconds and hand work to the flows.

:func:`register_image` attaches ``/image``, thread replies, mentions and the result buttons;
:func:`register_spend` attaches ``/spend``, budgets, "ask for more" and approvals.
"""

from bot.listeners.image import ImageFlow
from bot.listeners.register import register_image
from bot.listeners.spend import register_spend

__all__ = ["ImageFlow", "register_image", "register_spend"]
