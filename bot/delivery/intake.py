"""Events API deliveries acknowledged by the HTTP server itself, handed to Bolt after.

Slack needs only a 2xx within 3 s for an ``event_callback`` and ignores its body, and
Bolt acknowledges every event before its listener runs anyway. Through Bolt, though,
the acknowledgement waited for a thread hand-off and Bolt's whole middleware chain, in
an interpreter busy composing answers (issue 18's benchmark: 87–218 ms p99 at 20
clients). So once the server has checked an event's signature and shape, ``EventIntake``
claims it in the dedupe store and the server acknowledges it; the Bolt dispatch (its
middleware, the listener, the answer) runs afterwards on ``workers`` threads of its own.

What each outcome answers, decided before the acknowledgement:

- first delivery of the event: 200, and the event is dispatched;
- a repeat (Slack's retry, another replica's delivery): 200, nothing else;
- dedupe store unreachable: 503, so Slack delivers it again (``bot.dedupe``);
- too much already in hand (``max_waiting`` events waiting for Bolt, or the delivery
  pool without room for their answers): 503 with ``Retry-After``, logged as
  ``event.busy``, *before* the claim, so Slack's retry (about 1 and 5 minutes later)
  is still the first delivery and gets answered then.

A request that fails the signature check never gets here (the server refuses it first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog
from slack_bolt import BoltRequest, BoltResponse

from bot.dedupe import RETRY_LATER_STATUS, claim_event
from bot.stores.memory import TtlEventDedupe
from handlers.deps import Background, EventDedupe

# Bolt dispatches events quickly (listeners run on Bolt's own executor); two threads keep
# one free while the other is in a slow store lookup.
INTAKE_WORKERS = 2
INTAKE_MAX_WAITING = 256
# Room kept in the delivery pool for what commands and clicks hand to it.
DELIVERY_RESERVE = 32
# The context key telling the Bolt middleware this event is claimed already.
CLAIMED = "licensebot_event_claimed"

log = structlog.get_logger("licensebot.intake")


class EventIntake:
    """Claims ``event_callback`` deliveries and dispatches them to Bolt after the ack."""

    def __init__(
        self,
        dedupe: EventDedupe,
        dispatch: Callable[[BoltRequest], BoltResponse],
        background: Background,
        *,
        workers: int = INTAKE_WORKERS,
        max_waiting: int = INTAKE_MAX_WAITING,
    ) -> None:
        self.dedupe = dedupe
        # The in-process store answers at once; SQLite and Redis may wait on I/O.
        self.claims_wait = not isinstance(dedupe, TtlEventDedupe)
        self.dispatch = dispatch
        self.background = background
        # Where acknowledged events go instead of ``dispatch`` (``bot.answerer``); when it
        # returns False the event is dispatched here after all.
        self.forward: Callable[[BoltRequest], bool] | None = None
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="intake")
        self._slots = threading.BoundedSemaphore(workers + max_waiting)

    def accept(self, request: BoltRequest, event_id: str) -> BoltResponse:
        """The acknowledgement for ``request``, the delivery of event ``event_id``
        (``bot.dedupe.event_id_of``). When ``claims_wait`` it may wait on the dedupe
        store: call it off the event loop then."""
        if self.background.room() <= DELIVERY_RESERVE or not self._slots.acquire(blocking=False):
            log.warning("event.busy", event_id=event_id, status=RETRY_LATER_STATUS)
            return BoltResponse(status=RETRY_LATER_STATUS, body="", headers={"Retry-After": "1"})
        try:
            refusal = claim_event(self.dedupe, event_id, request.headers)
            if refusal is not None:
                self._slots.release()
                return refusal
            request.context[CLAIMED] = True
            self._executor.submit(self._run, request, event_id)
        except RuntimeError:
            # Shutting down after the claim: refused, so that Slack's retry goes to a
            # replica or worker that is serving (the claim makes that one a repeat only
            # if it lands on the same dedupe store within its TTL; see docs/deploy.md).
            self._slots.release()
            log.error("event.refused_at_shutdown", event_id=event_id)
            return BoltResponse(status=RETRY_LATER_STATUS, body="")
        except BaseException:
            self._slots.release()
            raise
        return BoltResponse(status=200, body="")

    def _run(self, request: BoltRequest, event_id: str) -> None:
        try:
            forward = self.forward
            if forward is not None and forward(request):
                return
            response = self.dispatch(request)
            if response.status != 200:
                # Already acknowledged: Slack will not retry, so say what Bolt answered.
                log.error("event.not_dispatched", event_id=event_id, status=response.status)
        except Exception:
            log.exception("event.dispatch_crashed", event_id=event_id)
        finally:
            self._slots.release()

    def close(self, timeout: float | None = None) -> None:
        """Take no more events; wait up to ``timeout`` s for those in hand to reach Bolt."""
        waiter = threading.Thread(target=self._executor.shutdown, daemon=True)
        waiter.start()
        waiter.join(timeout)
        if waiter.is_alive():
            log.warning("intake.drain_timeout", timeout_s=timeout)
