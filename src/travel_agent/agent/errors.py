"""What can go wrong with a model upstream, each mapped to one status; the whole family is drawn in
``travel_agent.errors``. A spent budget is the service-wide ``BudgetExceeded``, not a class of its own."""

from __future__ import annotations

import logging

from travel_agent.errors import TravelAgentError

log = logging.getLogger("travel_agent.agent")


class AgentError(TravelAgentError):
    """The upstream answered with something unusable: a 5xx after the retries, a malformed body, a stream
    that broke off. The client may try again; nothing it sent was at fault."""

    status_code = 502
    kind = "upstream_error"
    message = "The travel assistant could not answer. Please try again."


class ReplyTooLong(AgentError):
    """The upstream's answer passed MAX_REPLY_CHARS: a broken or hostile upstream, or a runaway answer. The
    turn fails rather than storing a part of it; the question stays unanswered."""

    kind = "upstream_reply_too_long"
    message = "The travel assistant's answer was too long. Please ask for something shorter."


class UpstreamRefused(AgentError):
    """The upstream rejected the request itself (4xx other than 429): a wrong key, model or URL. Retrying
    the same request cannot help, so it is not retried; the operator must fix the configuration."""

    kind = "upstream_refused"
    message = "The travel assistant's model refused the request."


class AgentUnavailable(AgentError):
    """The upstream cannot be reached, is rate limiting or overloaded, or its circuit is open."""

    status_code = 503
    kind = "upstream_unavailable"
    message = "The travel assistant is temporarily unavailable. Please retry shortly."
    retry_after = 2


class CircuitOpen(AgentUnavailable):
    """Refused without a call: the upstream's circuit is open (it failed ``BREAKER_FAILURE_THRESHOLD`` times in a
    row and its cool-down has not passed)."""


def crashed(exc: BaseException) -> AgentError:
    """The error a turn ends with when an agent raised something outside this family (a provider's bug): logged
    once with its stack, answered as a 502 rather than a 500 or a hung turn. The one place that does this, for
    every way the chat runs an agent (``chat.pump``, ``chat.service``)."""
    log.error("the agent failed unexpectedly", exc_info=exc)
    return AgentError()
